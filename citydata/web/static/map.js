// Maps: each element with data-geojson (one layer) or data-layers (a JSON list of
// {url, name, colour}) becomes a Leaflet map drawn over the London borough boundaries
// (data-basemap), so it works with no internet at all; a tile service configured with
// CITYDATA_BASEMAP_TILES (data-tiles) is drawn beneath them, and the LSOA boundaries
// (data-lsoas) once zoomed in. Popups and the legend are built from
// text nodes, never HTML, so a property cannot inject markup. An input with data-map="<id>"
// filters that map's features by the words in their properties.
(function () {
  "use strict";

  function popup(properties) {
    var table = document.createElement("table");
    table.className = "map-popup";
    Object.keys(properties || {}).slice(0, 12).forEach(function (key) {
      var row = table.insertRow();
      var name = document.createElement("th");
      name.textContent = key;
      row.appendChild(name);
      row.insertCell().textContent = String(properties[key]);
    });
    return table;
  }

  function load(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + url); }
      return r.json();
    });
  }

  function legend(map, layers) {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = L.DomUtil.create("div", "map-legend");
      layers.forEach(function (layer) {
        var item = L.DomUtil.create("div", "map-legend__item", box);
        var swatch = L.DomUtil.create("span", "map-legend__swatch", item);
        swatch.style.backgroundColor = layer.colour;
        item.appendChild(document.createTextNode(layer.name));
      });
      return box;
    };
    control.addTo(map);
  }

  function text(feature) {
    return Object.values(feature.properties || {}).join(" ").toLowerCase();
  }

  // Zoomed in (13 and closer), the LSOA boundaries of the view are drawn as the basemap's
  // detail, fetched for each new view from the reference data.
  function lsoaOutlines(map, url) {
    var shown = null;
    var wanted = "";
    function update() {
      if (map.getZoom() < 13) {
        if (shown) { map.removeLayer(shown); shown = null; }
        wanted = "";
        return;
      }
      var b = map.getBounds();
      var key = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
        return Math.max(-180, Math.min(180, v)).toFixed(4);
      }).join(",");
      if (key === wanted) { return; }
      wanted = key;
      load(url + "?bbox=" + key).then(function (geojson) {
        if (key !== wanted) { return; }
        if (shown) { map.removeLayer(shown); }
        shown = L.geoJSON(geojson, {
          pane: "detail", interactive: false,
          style: { color: "#8c8c8c", weight: 0.6, dashArray: "3 3", fill: false }
        }).addTo(map);
        map.getContainer().setAttribute("data-lsoas", String(geojson.features.length));
      }).catch(function () { /* the basemap detail is optional */ });
    }
    map.on("moveend", update);
    update();
  }

  function draw(element) {
    var layers = element.dataset.layers ? JSON.parse(element.dataset.layers)
      : [{ url: element.dataset.geojson, name: "", colour: "#1d70b8" }];
    var map = L.map(element, { attributionControl: true, zoomSnap: 0.25 });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(element.dataset.attribution || "");
    map.setView([51.5, -0.12], 9.5);
    var drawn = [];
    // A configured tile service (production) under the borough outlines; without one the
    // filled boroughs are the whole basemap, and no request leaves the site.
    var tiles = element.dataset.tiles;
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: element.dataset.tilesAttribution || "" })
        .addTo(map);
    }
    // Basemap panes sit under the data (Leaflet's overlay pane is at z-index 400).
    map.createPane("basemap").style.zIndex = 250;
    map.createPane("detail").style.zIndex = 260;
    var base = element.dataset.basemap ? load(element.dataset.basemap) : Promise.resolve(null);
    base.then(function (boroughs) {
      if (boroughs) {
        L.geoJSON(boroughs, {
          pane: "basemap",
          style: { color: tiles ? "#505a5f" : "#b1b4b6", weight: 1, fillColor: "#f3f2f1",
                   fillOpacity: tiles ? 0 : 1 },
          interactive: false
        }).addTo(map);
        if (element.dataset.lsoas) { lsoaOutlines(map, element.dataset.lsoas); }
      }
      return Promise.all(layers.map(function (spec) { return load(spec.url); }));
    }).then(function (collections) {
      var bounds = L.latLngBounds([]);
      var count = 0;
      collections.forEach(function (geojson, i) {
        var colour = layers[i].colour;
        var style = { color: colour, weight: 2, fillOpacity: 0.25 };
        var layer = L.geoJSON(geojson, {
          style: style,
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, { radius: 5, color: colour, fillOpacity: 0.8 });
          },
          onEachFeature: function (feature, shape) {
            shape.bindPopup(function () { return popup(feature.properties); });
            drawn.push({ shape: shape, text: text(feature) });
          }
        }).addTo(map);
        count += layer.getLayers().length;
        if (layer.getBounds().isValid()) { bounds.extend(layer.getBounds()); }
      });
      if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [20, 20], maxZoom: 13, animate: false });
      }
      if (element.dataset.layers && layers.length) { legend(map, layers); }
      element.setAttribute("data-ready", String(count));
    }).catch(function (error) {
      element.setAttribute("data-error", String(error));
      element.textContent = "The map could not be drawn: " + error.message;
    });
    var filter = document.querySelector('input[data-map="' + element.id + '"]');
    if (filter) {
      filter.addEventListener("input", function () {
        var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
        var shown = 0;
        drawn.forEach(function (item) {
          var match = words.every(function (w) { return item.text.indexOf(w) >= 0; });
          item.shape.setStyle({ opacity: match ? 1 : 0.15, fillOpacity: match ? 0.8 : 0.05 });
          if (match) { shown += 1; }
        });
        element.setAttribute("data-shown", String(shown));
      });
    }
  }

  document.querySelectorAll(".map[data-geojson], .map[data-layers]").forEach(draw);
})();
