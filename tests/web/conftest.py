"""Shared fixtures for the rating-page tests."""

import numpy as np
import pytest

from oboptim.storage import Storage


@pytest.fixture
def one_point_campaign_url(tmp_path):
    """A SQLite URL holding campaign "web" with one waiting 2-D trial."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    with Storage(url) as storage:
        campaign, _ = storage.get_or_create_campaign("web", task="none", config={}, seed=0)
        storage.add_round(campaign.id, 0, [np.zeros(2)], [{}], b"", {})
    return url
