// A stand selection drawn on a map fills a form: the map element (#county-map or #stand-map,
// stand_map.js)
// dispatches "tanhui:selection" with detail {stand_keys: [...], bbox: [...]}; the keys go into
// the form's [data-selection-target] textarea (one per line) and the count into
// [data-selection-summary]. The form sends them; the registry selects the stands again
// (key=a|b|…), so nothing here is trusted.
(function () {
  "use strict";
  var zh = (document.documentElement.lang || "zh-CN").indexOf("zh") === 0;

  function fill(event) {
    var detail = event.detail || {};
    var keys = Array.isArray(detail.stand_keys) ? detail.stand_keys.map(String) : [];
    var target = document.querySelector("[data-selection-target]");
    if (!target) { return; }
    var unique = Array.from(new Set(keys));
    target.value = unique.join("\n");
    var summary = document.querySelector("[data-selection-summary]");
    if (summary) {
      summary.textContent = zh
        ? "地图上选中了 " + unique.length + " 个小班。"
        : unique.length + " stands selected on the map.";
      summary.dataset.count = String(unique.length);
    }
  }

  function wire() {
    var map = document.getElementById("county-map") || document.getElementById("stand-map");
    if (map) { map.addEventListener("tanhui:selection", fill); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
