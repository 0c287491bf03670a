import numpy as np
from matplotlib.transforms import Bbox

from pacgan_cli.core.figures import image_rows_figure


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
