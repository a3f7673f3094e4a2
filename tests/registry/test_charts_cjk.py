"""Chinese labels on the charts: the CJK font is registered and draws 碳汇 without a missing glyph."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager

from registry.certificate_pdf import CJK_FONT
from registry.charts import use_cjk_font


def test_chinese_labels_draw_with_the_cjk_font(tmp_path) -> None:
    family = use_cjk_font()
    assert family == "WenQuanYi Zen Hei"
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert found == str(CJK_FONT)
    fig, ax = plt.subplots()
    ax.set_title("县域碳汇潜力 county sink potential")
    ax.set_xlabel("乡镇 township")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(tmp_path / "cjk.png")
    plt.close(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert (tmp_path / "cjk.png").stat().st_size > 1000
