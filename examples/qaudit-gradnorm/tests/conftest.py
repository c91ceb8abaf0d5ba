"""Register the plugin on the isolated host of the qaudit.sdk.testing fixtures (a no-op once pip-installed)."""

import pytest
import qaudit_gradnorm


@pytest.fixture
def qaudit_plugins():
    return {"gradnorm": qaudit_gradnorm}
