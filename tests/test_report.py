"""`oboptim report` on an image task: the per-round grids of best and random candidates."""

import numpy as np

from oboptim import Campaign, write_report


def test_image_campaign_report_has_per_round_grids(tmp_path):
    c = Campaign.open("img", storage=f"sqlite:///{tmp_path / 'img.db'}", task="digits", seed=0)
    rng = np.random.default_rng(0)
    for round_index, count in enumerate((8, 3)):
        xs = [np.clip(rng.normal(size=(1, 16, 16)), -1, 1).astype(np.float32) for _ in range(count)]
        for trial in c.storage.add_round(c.id, round_index, xs, [{}] * count, b"", {}):
            c.tell(trial.id, float(rng.normal()))
    paths = {p.name: p for p in write_report(c, tmp_path / "report")}
    assert "images_per_round.png" in paths and "queries.png" not in paths
    assert paths["images_per_round.png"].stat().st_size > 5000
