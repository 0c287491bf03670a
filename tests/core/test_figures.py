from pathlib import Path

import numpy as np
import pytest
from matplotlib.cbook import is_math_text
from matplotlib.transforms import Bbox

from pacgan_cli.core import figures
from pacgan_cli.core.figures import image_rows_figure, plain_text
from pacgan_cli.core.metrics.calibration import calibration_report
from pacgan_cli.core.metrics.classification import class_log_odds, classification_report

# Names matplotlib would parse as mathtext (a parse error, an odd or even number of `$`) or as escapes.
HOSTILE_NAMES = [
    ("$\\frac{1}{0}$", "a$b"),
    ("\\", "$x$ and $"),
    ("\\$", "$$"),
]


def test_labels_of_an_image_grid_never_cover_an_image() -> None:
    rng = np.random.default_rng(0)
    rows = [rng.uniform(-1, 1, (8, 1, 32, 32)), rng.uniform(-1, 1, (8, 1, 32, 32))]
    figure = image_rows_figure(
        rows,
        ["synthetic", "nearest training image"],
        cell_titles=[[f"#{i} d=0.{i:04d}" for i in range(100, 108)], [f"#{i}" for i in range(8)]],
        title="The synthetic images closest to their nearest training image",
    )
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    images = [axis.get_window_extent(renderer) for axis in figure.axes]
    labels = [axis.title for axis in figure.axes] + [axis.yaxis.label for axis in figure.axes]
    labels += figure.texts  # the suptitle
    boxes = [label.get_window_extent(renderer) for label in labels if label.get_text()]
    assert len(boxes) == 16 + 2 + 1
    overlapping = [
        (round(box.y0), round(image.y1)) for box in boxes for image in images if _overlap(box, image)
    ]
    assert overlapping == []


def _overlap(a: Bbox, b: Bbox) -> bool:
    """Whether two boxes share more than a hairline (antialiasing may touch by a pixel)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > 1 and height > 1


@pytest.mark.parametrize("names", HOSTILE_NAMES, ids=["mathtext-error", "backslash", "escaped-dollar"])
def test_every_figure_draws_names_with_dollars_and_backslashes_as_written(
    tmp_path: Path, names: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts: list[str] = []
    save = figures._save

    def keep_texts(figure, path):
        figure.canvas.draw()
        texts.extend(text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text")))
        return save(figure, path)

    monkeypatch.setattr(figures, "_save", keep_texts)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 1, 8, 8)).astype(np.float32)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    logits = rng.normal(size=(8, 2))
    written = [
        figures.save_image_rows(
            tmp_path / "rows.png", [images, images], names, cell_titles=[names * 2] * 2, title=names[0]
        ),
        figures.save_sample_grid(images, 2, tmp_path / "grid.png", names[1], names),
        *figures.save_classification_figures(
            tmp_path / "roc.png",
            tmp_path / "confusion.png",
            classification_report(labels, logits),
            labels,
            class_log_odds(logits),
            names[0],
            names,
        ),
        figures.save_reliability_diagrams(
            tmp_path / "reliability.png",
            {name: calibration_report(labels, np.full((8, 2), 0.5)) for name in names},
            names[1],
        ),
        figures.save_age_histograms(tmp_path / "ages.png", {names[0]: {names[1]: np.array([60.0, 70.0])}}),
        figures.save_curve(
            [{"epoch": 1, "d_loss": 0.5}], tmp_path / "curve.png", {"d_loss": names[0]}, names[1], None
        ),
    ]
    assert all(path.stat().st_size > 0 for path in written)
    assert [text for text in texts if is_math_text(text)] == []
    assert all(plain_text(name) in "\n".join(texts) for name in names)
