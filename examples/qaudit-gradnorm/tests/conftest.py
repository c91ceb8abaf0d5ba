"""Register the plugin on qaudit.testing's isolated host (a no-op when it is pip-installed)."""

import pytest
import qaudit_gradnorm


@pytest.fixture
def qaudit_plugins():
    return {"gradnorm": qaudit_gradnorm}
