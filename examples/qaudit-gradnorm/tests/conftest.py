"""Register the plugin on the isolated host of qaudit's pytest fixtures (qaudit.sdk.testing) (a no-op when it is pip-installed)."""

import pytest
import qaudit_gradnorm


@pytest.fixture
def qaudit_plugins():
    return {"gradnorm": qaudit_gradnorm}
