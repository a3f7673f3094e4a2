/* tanhui — the registry's maps, drawn by MapLibre GL JS from the PMTiles file /tiles/registry.pmtiles
 * (layers "stands" and "projects"), with nothing fetched from another server.
 *
 *  - the county map (/map, <div id="county-map">): stands coloured by species group, projects
 *    outlined and labelled, a popup per click linking to the project's page, the list of projects
 *    in view (a.map-project[data-project] in .map-projects), Shift-drag box selection;
 *  - a project's map (<div id="stand-map" data-project="CODE">, on the project page): zoomed to
 *    the project's stands, which are highlighted.
 *
 * window.tanhuiMap is the maplibre Map. The map element gets data-ready="1" after its first
 * "idle" event. A Shift-drag dispatches on the map element the DOM event "tanhui:selection" with
 * detail = {stand_keys: [...], bbox: [minLon, minLat, maxLon, maxLat], complete, zoom}
 * (complete: false below the zoom from which every stand is in the tiles).
 */
(function () {
  "use strict";

  var VENDOR = "/static/vendor/";
  var lang = (document.documentElement.lang || "zh").slice(0, 2) === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "en" ? en : zh; }
  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function num(value, digits) {
    if (value === undefined || value === null || value === "") return "—";
    return Number(value).toLocaleString(lang === "en" ? "en-GB" : "zh-CN",
      { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  var STATUS = {
    draft: ["草稿", "draft"], submitted: ["已提交审定", "submitted"], validated: ["已审定", "validated"],
    registered: ["已登记", "registered"], monitored: ["已提交监测报告", "monitored"],
    verified: ["已核证", "verified"], issued: ["已签发", "issued"]
  };
  function statusName(s) { var n = STATUS[s]; return n ? t(n[0], n[1]) : s; }

  /* ---- the libraries: on the map page they are loaded already; elsewhere we load them ---- */
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve;
      s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(s);
    });
  }
  function vendor() {
    if (!document.querySelector('link[href$="maplibre-gl.css"]')) {
      var css = document.createElement("link");
      css.rel = "stylesheet"; css.href = VENDOR + "maplibre-gl/maplibre-gl.css";
      document.head.appendChild(css);
    }
    return Promise.all([
      window.maplibregl ? null : loadScript(VENDOR + "maplibre-gl/maplibre-gl.js"),
      window.pmtiles ? null : loadScript(VENDOR + "pmtiles/pmtiles.js")
    ]).then(function () {
      if (!window.__tanhuiPmtiles) {
        window.__tanhuiPmtiles = new pmtiles.Protocol();
        maplibregl.addProtocol("pmtiles", window.__tanhuiPmtiles.tile);
      }
    });
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  function notice(el, text, isError) {
    var box = document.getElementById("tiles-notice");
    if (!box && !text) return;
    if (!box) {
      var where = el.closest(".map-layout") || el;
      box = document.createElement("p");
      box.id = "tiles-notice";
      where.parentNode.insertBefore(box, where);
    }
    box.className = "notice" + (isError ? " error" : "");
    box.textContent = text;
    box.hidden = !text;
  }

  /* Waits until the tiles exist (the status request starts their build when needed). */
  function whenTilesReady(el) {
    return new Promise(function (resolve, reject) {
      function ask() {
        getJSON("/tiles/status").then(function (s) {
          if (s.ready) { resolve(s); return; }
          if (s.error && !s.building) {
            notice(el, t("地图瓦片生成失败：" + s.error.message_zh, "The map tiles could not be built: " + s.error.message_en), true);
            reject(new Error(s.error.message_en));
            return;
          }
          notice(el, t("地图瓦片尚未生成，现正从登记簿生成，完成后地图会自动出现。",
            "The map tiles have not been built yet; they are being built from the registry now and the map appears when they are ready."));
          setTimeout(ask, 1500);
        }).catch(function (e) { setTimeout(ask, 3000); console.warn(e); });
      }
      ask();
    });
  }

  function source(url) { return "pmtiles://" + location.origin + url; }

  function speciesColour(species) {
    var expr = ["match", ["coalesce", ["get", "species_group"], ""]];
    var fallback = "#bdbdbd";
    species.forEach(function (s) {
      if (s.group) expr.push(s.group, s.colour); else fallback = s.colour;
    });
    expr.push(fallback);
    return expr;
  }

  function style(status, opts) {
    var sources = { registry: { type: "vector", url: source(status.pmtiles), attribution: "tanhui 碳汇" } };
    var layers = [{ id: "background", type: "background", paint: { "background-color": "#eef1ec" } }];
    if (opts.basemap) {
      sources.basemap = { type: "raster", tiles: [opts.basemap], tileSize: 256 };
      layers.push({ id: "basemap", type: "raster", source: "basemap" });
    }
    layers.push(
      { id: "stands-fill", type: "fill", source: "registry", "source-layer": "stands",
        paint: { "fill-color": opts.fill, "fill-opacity": opts.basemap ? 0.6 : 0.9 } },
      { id: "stands-line", type: "line", source: "registry", "source-layer": "stands", minzoom: 12,
        paint: { "line-color": "rgba(255,255,255,0.75)",
                 "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.2, 14, 0.6, 17, 1.5] } },
      { id: "stands-selected", type: "fill", source: "registry", "source-layer": "stands",
        filter: ["in", ["get", "stand_key"], ["literal", []]],
        paint: { "fill-color": "#ffeb3b", "fill-opacity": 0.85, "fill-outline-color": "#f57f17" } },
      { id: "projects-fill", type: "fill", source: "registry", "source-layer": "projects",
        paint: { "fill-color": "#6a1b9a", "fill-opacity": 0 } },
      { id: "projects-casing", type: "line", source: "registry", "source-layer": "projects", minzoom: 11,
        paint: { "line-color": "#ffffff", "line-opacity": 0.9,
                 "line-width": ["interpolate", ["linear"], ["zoom"], 11, 2, 14, 5] } },
      { id: "projects-line", type: "line", source: "registry", "source-layer": "projects",
        paint: { "line-color": opts.projectLine || "#6a1b9a",
                 "line-opacity": ["interpolate", ["linear"], ["zoom"], 8, 0.7, 12, 1],
                 "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.8, 11, 1.4, 14, 2.5] } }
    );
    return { version: 8, sources: sources, layers: layers };
  }

  /* ---- the popup ---- */
  function projectHTML(code, projectProps, place) {
    var name = (projectProps && projectProps.name) || (place && place.name) || code;
    var status = (projectProps && projectProps.status) || (place && place.status);
    var issued = projectProps && projectProps.issued !== undefined ? projectProps : place;
    var html = '<div class="popup-project"><b>' + esc(name) + "</b><br><small>" + esc(code) +
      (status ? " · " + esc(statusName(status)) : "") + "</small>";
    if (issued && issued.issued !== undefined) {
      html += "<br><small>" + t("已签发 ", "issued ") + num(issued.issued) + " t · " +
        t("已退役 ", "retired ") + num(issued.retired) + " t</small>";
    }
    return html + '<br><a class="map-project-link" data-project="' + esc(code) + '" href="/projects/' +
      encodeURIComponent(code) + '">' + t("打开项目页 →", "Open the project page →") + "</a></div>";
  }

  function popupHTML(stand, projectProps, place, complete) {
    var html = "";
    var code = (projectProps && projectProps.code) || (stand && stand.project);
    if (code) html += projectHTML(code, projectProps, place);
    if (stand) {
      var p = stand;
      html += '<div class="popup-stand"><b>' + t("小班 ", "Stand ") + esc(p.stand_key) + "</b>";
      var rows = [
        [t("树种组", "Species group"), p.species_label],
        [t("优势树种", "Dominant species"), p.dominant_species],
        [t("乡镇 / 村", "Township / village"), [p.township, p.village].filter(Boolean).join(" ")],
        [t("面积", "Area"), p.area_ha !== undefined ? num(p.area_ha, 2) + " " + t("公顷", "ha") : ""],
        [t("地类", "Land class"), p.land_class],
        [t("起源 / 龄组", "Origin / age group"), [p.origin, p.age_group].filter(Boolean).join(" · ")],
        [t("林种", "Forest category"), p.forest_category],
        [t("权利人", "Right holder"), p.owner]
      ];
      html += "<table>";
      rows.forEach(function (r) { if (r[1]) html += "<tr><th>" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>"; });
      html += "</table>";
      if (!complete) html += "<small>" + t("放大地图可查看小班的全部属性。", "Zoom in to see all of the stand's attributes.") + "</small>";
      html += "</div>";
    }
    return html;
  }

  function bindPopup(map, places, species) {
    var names = {};
    species.forEach(function (s) { names[s.group] = t(s.zh, s.en); });
    map.on("click", function (e) {
      var stands = map.queryRenderedFeatures(e.point, { layers: ["stands-fill"] });
      var projects = map.queryRenderedFeatures(e.point, { layers: ["projects-fill"] });
      var stand = stands.length ? Object.assign({}, stands[0].properties) : null;
      if (stand) stand.species_label = names[stand.species_group || ""] || stand.species_group;
      var pp = projects.length ? projects[0].properties : null;
      var code = (pp && pp.code) || (stand && stand.project);
      var html = popupHTML(stand, pp, code ? places[code] : null, stand && stand.area_ha !== undefined);
      if (html) new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(e.lngLat).setHTML(html).addTo(map);
    });
    map.on("mousemove", function (e) {
      var hit = map.queryRenderedFeatures(e.point, { layers: ["stands-fill", "projects-fill"] });
      map.getCanvas().style.cursor = hit.length ? "pointer" : "";
    });
  }

  /* ---- labels: HTML markers (no glyph server needed: nothing is fetched from elsewhere) ---- */
  function addLabels(map, list, onClick) {
    var markers = list.filter(function (p) { return p.label; }).map(function (p) {
      var el = document.createElement("div");
      el.className = "map-label";
      el.setAttribute("data-project", p.code);
      el.innerHTML = "<b>" + esc(p.code) + "</b><span>" + esc(p.name) + "</span>";
      el.addEventListener("click", function (ev) { ev.stopPropagation(); onClick(p); });
      return new maplibregl.Marker({ element: el, anchor: "center" }).setLngLat(p.label).addTo(map);
    });
    function toggle() {
      var show = map.getZoom() >= 8;
      markers.forEach(function (m) { m.getElement().style.display = show ? "" : "none"; });
    }
    map.on("zoomend", toggle);
    toggle();
  }

  /* ---- the projects in view, beside the map ---- */
  function listInView(map) {
    var items = document.querySelectorAll(".map-projects li[data-code]");
    var seen = {};  // the projects drawn in the view (the projects layer is never thinned out)
    map.queryRenderedFeatures({ layers: ["projects-fill"] }).forEach(function (f) { seen[f.properties.code] = true; });
    var shown = 0;
    items.forEach(function (li) {
      var inside = !!seen[li.getAttribute("data-code")];
      li.hidden = !inside;
      if (inside) shown += 1;
    });
    var count = document.getElementById("map-project-count");
    if (count) count.textContent = "(" + shown + ")";
    var none = document.getElementById("map-no-projects");
    if (none) none.hidden = shown > 0;
  }

  /* ---- Shift-drag: select stands in a box ---- */
  function boxSelection(map, el, completeFrom) {
    var canvas = map.getCanvasContainer();
    var start = null, box = null;
    function pos(e) {
      var r = canvas.getBoundingClientRect();
      return new maplibregl.Point(e.clientX - r.left - canvas.clientLeft, e.clientY - r.top - canvas.clientTop);
    }
    function onMove(e) {
      var p = pos(e);
      if (!box) { box = document.createElement("div"); box.className = "map-boxdraw"; canvas.appendChild(box); }
      var minX = Math.min(start.x, p.x), maxX = Math.max(start.x, p.x);
      var minY = Math.min(start.y, p.y), maxY = Math.max(start.y, p.y);
      box.style.transform = "translate(" + minX + "px," + minY + "px)";
      box.style.width = (maxX - minX) + "px"; box.style.height = (maxY - minY) + "px";
    }
    function finish(end) {
      document.removeEventListener("mousemove", onMove);
      document.removeEventListener("mouseup", onUp);
      if (box) { box.remove(); box = null; }
      map.dragPan.enable();
      if (!end || (Math.abs(end.x - start.x) < 3 && Math.abs(end.y - start.y) < 3)) return;
      var found = map.queryRenderedFeatures([start, end], { layers: ["stands-fill"] });
      var keys = {};
      found.forEach(function (f) { if (f.properties.stand_key) keys[f.properties.stand_key] = true; });
      var standKeys = Object.keys(keys).sort();
      var a = map.unproject(start), b = map.unproject(end);
      var bbox = [Math.min(a.lng, b.lng), Math.min(a.lat, b.lat), Math.max(a.lng, b.lng), Math.max(a.lat, b.lat)];
      var complete = completeFrom !== null && completeFrom !== undefined && map.getZoom() >= completeFrom;
      map.setFilter("stands-selected", ["in", ["get", "stand_key"], ["literal", standKeys]]);
      var out = document.getElementById("map-selection");
      if (out) {
        out.hidden = false;
        out.textContent = t("已框选 " + standKeys.length + " 个小班。", standKeys.length + " stands selected.") +
          (complete ? "" : " " + t("放大到 " + completeFrom + " 级以上才能选中框内全部小班。",
            "Zoom in to level " + completeFrom + " or more to select every stand in the box."));
      }
      el.dispatchEvent(new CustomEvent("tanhui:selection", {
        bubbles: true, detail: { stand_keys: standKeys, bbox: bbox, complete: complete, zoom: map.getZoom() }
      }));
    }
    function onUp(e) { finish(pos(e)); }
    canvas.addEventListener("mousedown", function (e) {
      if (!(e.shiftKey && e.button === 0)) return;
      e.preventDefault(); e.stopPropagation();
      map.dragPan.disable();
      start = pos(e);
      document.addEventListener("mousemove", onMove);
      document.addEventListener("mouseup", onUp);
    }, true);
  }

  function markIdle(map, el) {
    map.once("idle", function () { el.setAttribute("data-ready", "1"); });
    map.on("error", function (e) { console.warn("map:", e && e.error ? e.error.message : e); });
  }

  /* Polls the status while a rebuild runs; swaps in the new file when it is ready. */
  function followRebuilds(map, el, status) {
    var current = status.pmtiles;
    function ask() {
      getJSON("/tiles/status").then(function (s) {
        if (s.pmtiles && s.pmtiles !== current) {
          current = s.pmtiles;
          map.getSource("registry").setUrl(source(current));
        }
        if (s.building || !s.current) setTimeout(ask, 5000); else notice(el, "");
      }).catch(function () { setTimeout(ask, 10000); });
    }
    if (status.building || !status.current) setTimeout(ask, 5000);
  }

  function countyMap(el) {
    var config = JSON.parse(document.getElementById("map-config").textContent);
    var places = {};
    config.projects.forEach(function (p) { places[p.code] = p; });
    vendor().then(function () { return whenTilesReady(el); }).then(function (status) {
      if (status.current) notice(el, "");
      var bounds = status.stamp.bounds;
      var map = new maplibregl.Map({
        container: el, style: style(status, { fill: speciesColour(config.species), basemap: config.basemap }),
        bounds: [[bounds[0], bounds[1]], [bounds[2], bounds[3]]], fitBoundsOptions: { padding: 20 },
        minZoom: 6, maxZoom: 18, boxZoom: false, attributionControl: { compact: true }
      });
      window.tanhuiMap = map;
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
      markIdle(map, el);
      bindPopup(map, places, config.species);
      addLabels(map, config.projects, function (p) {
        var html = projectHTML(p.code, null, p);
        new maplibregl.Popup({ maxWidth: "340px" }).setLngLat(p.label).setHTML(html).addTo(map);
      });
      map.on("idle", function () { listInView(map); });
      boxSelection(map, el, status.stamp.complete_from_zoom);
      followRebuilds(map, el, status);
    }).catch(function (e) { console.warn(e); });
  }

  function projectMap(el) {
    var code = el.getAttribute("data-project");
    if (!el.style.height && el.clientHeight < 50) el.style.height = "420px";
    vendor().then(function () {
      return Promise.all([whenTilesReady(el), getJSON("/tiles/projects.json")]);
    }).then(function (got) {
      var status = got[0], list = got[1].projects, species = got[1].species, places = {};
      notice(el, "");
      list.forEach(function (p) { places[p.code] = p; });
      var place = places[code];
      var box = (place && place.bbox) || status.stamp.bounds;
      var fill = ["case", ["==", ["get", "project"], code], "#2e7d32", "#d5dcd5"];
      var map = new maplibregl.Map({
        container: el, style: style(status, { fill: fill, projectLine: "#b71c1c" }),
        bounds: [[box[0], box[1]], [box[2], box[3]]], fitBoundsOptions: { padding: 30, maxZoom: 15 },
        minZoom: 6, maxZoom: 18, boxZoom: false, attributionControl: { compact: true }
      });
      window.tanhuiMap = map;
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
      map.on("load", function () {
        map.setFilter("projects-line", ["==", ["get", "code"], code]);
        map.setFilter("projects-casing", ["==", ["get", "code"], code]);
      });
      markIdle(map, el);
      bindPopup(map, places, species);
      if (!place || !place.bbox) {
        notice(el, t("该项目还没有小班。", "This project has no stands yet."));
      }
    }).catch(function (e) { console.warn(e); });
  }

  function start() {
    var county = document.getElementById("county-map");
    if (county) { countyMap(county); return; }
    var project = document.querySelector("#stand-map[data-project]");
    if (project) projectMap(project);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
