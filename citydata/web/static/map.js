// Map previews: each element with data-geojson becomes a Leaflet map of that GeoJSON, drawn
// over the London borough boundaries (data-basemap) so it works with no internet at all.
// Popups are built from text nodes, never HTML, so a property cannot inject markup.
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

  function draw(element) {
    var map = L.map(element, { attributionControl: true, zoomSnap: 0.25 });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(element.dataset.attribution || "");
    var base = element.dataset.basemap ? load(element.dataset.basemap) : Promise.resolve(null);
    var data = load(element.dataset.geojson);
    base.then(function (boroughs) {
      if (boroughs) {
        L.geoJSON(boroughs, {
          style: { color: "#b1b4b6", weight: 1, fillColor: "#f3f2f1", fillOpacity: 1 },
          interactive: false
        }).addTo(map);
      }
      return data;
    }).then(function (geojson) {
      var layer = L.geoJSON(geojson, {
        style: { color: "#1d70b8", weight: 2, fillOpacity: 0.25 },
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, { radius: 5, color: "#1d70b8", fillOpacity: 0.8 });
        },
        onEachFeature: function (feature, shape) {
          shape.bindPopup(function () { return popup(feature.properties); });
        }
      }).addTo(map);
      var bounds = layer.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 13 }); }
      else { map.setView([51.5, -0.12], 9); }
      element.setAttribute("data-ready", String(layer.getLayers().length));
    }).catch(function (error) {
      element.setAttribute("data-error", String(error));
      element.textContent = "The map could not be drawn: " + error.message;
    });
  }

  document.querySelectorAll(".map[data-geojson]").forEach(draw);
})();
