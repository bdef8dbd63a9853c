/* Səsim public map: the map page's script (static/README.md: "map.js").
 *
 * Reads #map-config (labels in the page's language, URLs), fetches data/map.json
 * (format 2, see README.md) and the offline basemap, then filters, counts and
 * clusters every entry in the browser with supercluster: on each move only the
 * clusters and points in view are drawn (never one Leaflet layer per entry). The
 * entries' ids (data/map-ids.json, most of the bytes) are fetched only when a popup
 * first needs a link. A filter that cannot be used is refused with the server's words
 * and nothing is drawn.
 * Every text is set with textContent or as a DOM node, never as HTML. Nothing is
 * global: one function scope; the page works without this script (the form and
 * the link to the list are rendered by the server).
 */
(function () {
  'use strict';

  var configNode = document.getElementById('map-config');
  var mapNode = document.getElementById('map');
  if (!configNode || !mapNode || !window.L || !window.Supercluster) {
    return;
  }
  var L = window.L;
  var config = JSON.parse(configNode.textContent);
  var text = config.text;
  // The filter controls: a GET form to this page, or in the static site a plain <div>.
  var form = document.querySelector('.map-page .filter-form');
  var panel = document.getElementById('map-panel');
  var statusNode = document.getElementById('map-status');
  var listLink = document.getElementById('map-list-link');
  var legend = document.getElementById('map-legend');
  var classList = document.getElementById('map-classes');
  var serverCount = document.getElementById('map-count');
  var errorNode = document.getElementById('map-error');

  var MIN_ZOOM = 8;
  var MAX_ZOOM = 17;
  var HIGH_ZOOM = 13; // from here the districts are outlines, not a choropleth
  var CLASSES = 5; // choropleth classes above "none" (as the statistics page's)
  var FIELDS = ['type', 'district', 'service', 'perpetrator'];
  var TABLE = { type: 'types', district: 'districts', service: 'services', perpetrator: 'perpetrators' };
  var FORMAT = 2; // of map.json and map-ids.json
  var ID_HEX = 32; // an id's length in map-ids.json's ids
  var MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/; // as listing.MONTH (ASCII digits, fullmatch)
  var POPUP_LEAVES = 10;

  var doc = null;
  var ids = null; // map-ids.json's ids for this doc, once fetched
  var idsWaiting = null; // the fetch of them under way (a Promise)
  var basemap = null; // [districts, metro] until the map is built
  var refused = false; // a filter that cannot be used: nothing drawn
  var index = null;
  var map = null;
  var clusters = null;
  var districtLayers = {};
  var state = null;
  var counts = { total: 0, onMap: 0, clustered: 0, perDistrict: [] };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined) {
      node.textContent = content;
    }
    return node;
  }

  function label(field, code) {
    var table = config.labels[field] || {};
    return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : code;
  }

  /* -- the filter state: the URL query <-> the form <-> the entries ------------- */

  function emptyState() {
    return { type: [], district: [], service: [], perpetrator: [], from: '', to: '' };
  }

  /* The filters in a query, checked as listing.parse checks them: {state, bad}, bad
     the first field that cannot be used (an unknown code, more values than
     listing.MAX_VALUES, a month not YYYY-MM in ASCII digits, a period that ends
     before it starts: "to"), or null. */
  function parseQuery(search) {
    var params = new URLSearchParams(search);
    var out = emptyState();
    var bad = null;
    ['from', 'to'].forEach(function (name) {
      var value = params.get(name) || '';
      if (value && !MONTH.test(value)) {
        bad = bad || name;
      } else {
        out[name] = value;
      }
    });
    if (!bad && out.from && out.to && out.from > out.to) {
      bad = 'to';
    }
    FIELDS.forEach(function (field) {
      var seen = {};
      var given = params.getAll(field).filter(function (value) {
        return value !== ''; // an empty choice: no filter
      });
      if (given.length > config.max_values) {
        bad = bad || field; // as listing.MAX_VALUES
      }
      given.forEach(function (value) {
        if (Object.prototype.hasOwnProperty.call(config.labels[field], value)) {
          seen[value] = true;
        } else {
          bad = bad || field;
        }
      });
      out[field] = Object.keys(seen).sort();
    });
    return { state: out, bad: bad };
  }

  function toQuery(filters) {
    var params = new URLSearchParams();
    FIELDS.forEach(function (field) {
      filters[field].forEach(function (value) {
        params.append(field, value);
      });
    });
    if (filters.from) {
      params.append('from', filters.from);
    }
    if (filters.to) {
      params.append('to', filters.to);
    }
    return params.toString();
  }

  function toForm(filters) {
    if (!form) {
      return;
    }
    Array.prototype.forEach.call(form.querySelectorAll('input[type=checkbox]'), function (box) {
      box.checked = (filters[box.name] || []).indexOf(box.value) >= 0;
    });
    // A group with a choice in it is open (the server opens them too, when it knows).
    Array.prototype.forEach.call(form.querySelectorAll('details.filter-group'), function (group) {
      if (group.querySelector('input:checked')) {
        group.open = true;
      }
    });
    form.querySelector('[name=from]').value = filters.from;
    form.querySelector('[name=to]').value = filters.to;
  }

  function fromForm() {
    var params = new URLSearchParams();
    if (form) {
      Array.prototype.forEach.call(form.querySelectorAll('input[type=checkbox]:checked'), function (box) {
        params.append(box.name, box.value);
      });
      params.append('from', form.querySelector('[name=from]').value.trim());
      params.append('to', form.querySelector('[name=to]').value.trim());
    }
    return parseQuery(params.toString());
  }

  /* The list with these filters (in the static site: the pre-built list for one type
     or one district, else the whole list). */
  function listUrl(filters) {
    var query = toQuery(filters);
    if (!config.static) {
      return config.list_url + (query ? '?' + query : '');
    }
    var only = null;
    var used = FIELDS.filter(function (field) { return filters[field].length > 0; });
    if (used.length === 1 && filters[used[0]].length === 1 && !filters.from && !filters.to &&
        (used[0] === 'type' || used[0] === 'district')) {
      only = used[0] + '/' + encodeURIComponent(filters[used[0]][0]) + '/';
    }
    return config.list_url + (only || '');
  }

  function showQuery() {
    var query = toQuery(state);
    var chosen = document.getElementById('map-chosen');
    if (chosen) {
      var n = FIELDS.reduce(function (sum, field) { return sum + state[field].length; }, 0) +
        (state.from ? 1 : 0) + (state.to ? 1 : 0);
      chosen.textContent = n ? ' (' + n + ')' : '';
    }
    var params = new URLSearchParams(window.location.search);
    var keep = params.get('lang');
    var full = keep ? (query ? query + '&' : '') + 'lang=' + encodeURIComponent(keep) : query;
    window.history.replaceState(null, '', window.location.pathname + (full ? '?' + full : ''));
    if (listLink) {
      listLink.href = listUrl(state);
    }
    // The language switcher keeps the filters.
    Array.prototype.forEach.call(document.querySelectorAll('.langs a[hreflang]'), function (link) {
      var url = new URL(link.href, window.location.href);
      url.search = query;
      link.href = url.pathname + url.search;
    });
  }

  function codeSet(field) {
    var values = state[field];
    if (!values.length) {
      return null;
    }
    var table = doc[TABLE[field]];
    var set = new Uint8Array(table.length);
    values.forEach(function (code) {
      var at = table.indexOf(code);
      if (at >= 0) {
        set[at] = 1;
      }
    });
    return set;
  }

  function monthRange() {
    var months = doc.months;
    var low = 0;
    var high = months.length - 1;
    if (state.from) {
      while (low < months.length && months[low] < state.from) {
        low++;
      }
    }
    if (state.to) {
      while (high >= 0 && months[high] > state.to) {
        high--;
      }
    }
    return [low, high];
  }

  /* Filter every entry (as listing.where does), count, and rebuild the index. */
  function applyFilters() {
    var c = doc.columns;
    var points = doc.points;
    var typeMask = 0;
    state.type.forEach(function (code) {
      var at = doc.types.indexOf(code);
      if (at >= 0) {
        typeMask |= 1 << at;
      }
    });
    var districts = codeSet('district');
    var services = codeSet('service');
    var perpetrators = codeSet('perpetrator');
    var period = state.from || state.to;
    var range = monthRange();
    var perDistrict = new Array(doc.districts.length).fill(0);
    var features = [];
    var total = 0;
    var at;
    for (var i = 0; i < doc.count; i++) {
      if (state.type.length && !(c.types[i] & typeMask)) {
        continue;
      }
      at = c.district[i];
      if (districts && (at < 0 || !districts[at])) {
        continue;
      }
      if (services && (c.service[i] < 0 || !services[c.service[i]])) {
        continue;
      }
      if (perpetrators && (c.perpetrator[i] < 0 || !perpetrators[c.perpetrator[i]])) {
        continue;
      }
      if (period && (c.month[i] < 0 || c.month[i] < range[0] || c.month[i] > range[1])) {
        continue;
      }
      total++;
      if (at >= 0) {
        perDistrict[at]++;
      }
      if (c.point[i] >= 0) {
        var p = points[c.point[i]];
        features.push({
          type: 'Feature',
          properties: { i: i },
          geometry: { type: 'Point', coordinates: [p[1] / 1e6, p[0] / 1e6] }
        });
      }
    }
    index = new window.Supercluster({ radius: 60, minZoom: MIN_ZOOM, maxZoom: MAX_ZOOM });
    index.load(features);
    var clustered = 0;
    index.getClusters([-180, -85, 180, 85], MIN_ZOOM).forEach(function (f) {
      clustered += f.properties.cluster ? f.properties.point_count : 1;
    });
    counts = { total: total, onMap: features.length, clustered: clustered, perDistrict: perDistrict };
    paintDistricts();
  }

  /* -- drawing ------------------------------------------------------------------ */

  function typeClass(mask) {
    if (mask && (mask & (mask - 1)) === 0) {
      return 't-' + Math.round(Math.log2(mask));
    }
    return 't-several';
  }

  function typeLabels(mask) {
    var out = [];
    doc.types.forEach(function (code, n) {
      if (mask & (1 << n)) {
        out.push(label('type', code));
      }
    });
    return out.join('; ');
  }

  function entryUrl(i) {
    return config.entry_url + encodeURIComponent(ids.substr(i * ID_HEX, ID_HEX)) + '/';
  }

  /* map-ids.json, fetched once. If its sequence is not map.json's (a bundle came
     between the two fetches), both are fetched again, once: the map is redrawn from
     the new map.json and the open popup, whose entry numbers were the old ones, closed.
     Resolves when ``ids`` belong to ``doc``; a failure lets the next popup try again. */
  function loadIds() {
    if (!idsWaiting) {
      idsWaiting = getJson(config.ids_url).then(function (found) {
        if (matches(doc, found)) {
          ids = found.ids;
          return;
        }
        return Promise.all([getJson(config.data_url), getJson(config.ids_url)]).then(function (both) {
          if (both[0].format !== FORMAT || !matches(both[0], both[1])) {
            throw new Error('map-ids.json does not match map.json');
          }
          doc = both[0];
          ids = both[1].ids;
          map.closePopup();
          if (!refused) {
            update();
          }
        });
      });
      idsWaiting.catch(function (error) {
        idsWaiting = null;
        if (window.console) {
          window.console.warn(error);
        }
      });
    }
    return idsWaiting;
  }

  function matches(data, found) {
    return found.format === FORMAT && found.sequence === data.sequence && found.count === data.count &&
      typeof found.ids === 'string' && found.ids.length === data.count * ID_HEX;
  }

  /* Give ``link`` the address of entry ``i`` of the current doc, now or once the ids
     are here (until then it is a link with no address, which nothing can follow). */
  function linkTo(link, i) {
    var asked = doc;
    if (ids !== null) {
      link.href = entryUrl(i);
      return;
    }
    loadIds().then(function () {
      if (doc === asked) {
        link.href = entryUrl(i);
      }
    }, function () {});
  }

  function monthOf(i) {
    var m = doc.columns.month[i];
    return m >= 0 ? doc.months[m] : '';
  }

  function field(list, name, value) {
    list.appendChild(el('dt', '', name));
    list.appendChild(el('dd', '', value));
  }

  function entryPopup(i) {
    var c = doc.columns;
    var box = el('div', 'map-popup');
    var fields = el('dl', 'fields');
    field(fields, text.type, typeLabels(c.types[i]));
    field(fields, text.month, monthOf(i) || text.not_known);
    field(fields, text.district, c.district[i] >= 0 ? label('district', doc.districts[c.district[i]]) : text.not_said);
    box.appendChild(fields);
    var link = el('a', '', text.open_entry);
    linkTo(link, i);
    box.appendChild(link);
    return box;
  }

  function leavesPopup(cluster) {
    var count = cluster.properties.point_count;
    var box = el('div', 'map-popup');
    box.appendChild(el('p', 'map-popup-title', format(text.here, { n: count })));
    var list = el('ul', 'map-leaves');
    index.getLeaves(cluster.properties.cluster_id, POPUP_LEAVES).forEach(function (leaf) {
      var i = leaf.properties.i;
      var item = el('li');
      var link = el('a', '', typeLabels(doc.columns.types[i]) + (monthOf(i) ? ' · ' + monthOf(i) : ''));
      linkTo(link, i);
      item.appendChild(link);
      list.appendChild(item);
    });
    box.appendChild(list);
    if (count > POPUP_LEAVES) {
      // Entries at one place are in one district: the list for it, under these filters.
      var first = index.getLeaves(cluster.properties.cluster_id, 1)[0].properties.i;
      var here = Object.assign({}, state);
      if (doc.columns.district[first] >= 0) {
        here.district = [doc.districts[doc.columns.district[first]]];
      }
      var more = el('a', '', format(text.more, { n: count - POPUP_LEAVES }));
      more.href = listUrl(here);
      box.appendChild(more);
    }
    return box;
  }

  function sizeOf(count) {
    if (count < 10) {
      return ['s', 30];
    }
    if (count < 100) {
      return ['m', 38];
    }
    if (count < 1000) {
      return ['l', 46];
    }
    return ['xl', 54];
  }

  function clusterMarker(cluster, latlng) {
    var count = cluster.properties.point_count;
    var size = sizeOf(count);
    var inner = el('span', '', String(cluster.properties.point_count_abbreviated));
    var marker = L.marker(latlng, {
      icon: L.divIcon({ html: inner, className: 'map-cluster size-' + size[0], iconSize: [size[1], size[1]] }),
      title: format(text.cluster, { n: count }),
      keyboard: true
    });
    marker.on('click', function () {
      var zoom = index.getClusterExpansionZoom(cluster.properties.cluster_id);
      if (zoom > MAX_ZOOM || map.getZoom() >= MAX_ZOOM) {
        L.popup().setLatLng(latlng).setContent(leavesPopup(cluster)).openOn(map);
      } else {
        map.setView(latlng, zoom);
      }
    });
    return marker;
  }

  function pointMarker(feature, latlng) {
    var i = feature.properties.i;
    var marker = L.circleMarker(latlng, {
      radius: 8,
      weight: 2,
      fillOpacity: 0.9,
      className: 'entry ' + typeClass(doc.columns.types[i])
    });
    marker.bindPopup(function () { return entryPopup(i); });
    return marker;
  }

  /* Only what is in view (a little beyond, for smooth panning), at this zoom. */
  function draw() {
    var bounds = map.getBounds().pad(0.25);
    var zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, Math.round(map.getZoom())));
    var bbox = [
      Math.max(-180, bounds.getWest()), Math.max(-85, bounds.getSouth()),
      Math.min(180, bounds.getEast()), Math.min(85, bounds.getNorth())
    ];
    clusters.clearLayers();
    index.getClusters(bbox, zoom).forEach(function (feature) {
      var c = feature.geometry.coordinates;
      var latlng = L.latLng(c[1], c[0]);
      clusters.addLayer(feature.properties.cluster ? clusterMarker(feature, latlng) : pointMarker(feature, latlng));
    });
    mapNode.classList.toggle('zoom-high', map.getZoom() >= HIGH_ZOOM);
    report();
  }

  function report() {
    statusNode.textContent = format(text.status, {
      total: counts.total, on_map: counts.onMap, no_place: counts.total - counts.onMap
    });
    statusNode.dataset.total = String(counts.total);
    statusNode.dataset.onMap = String(counts.onMap);
    statusNode.dataset.clustered = String(counts.clustered);
    statusNode.dataset.ready = '1';
  }

  /* The statistics page's classes (charts.bins): zero, then at most five of equal
     width up to the largest count, the darkest colours when there are fewer. */
  function bins(top) {
    var out = [{ low: 0, high: 0, colour: 0 }];
    if (top <= 0) {
      return out;
    }
    var width = Math.ceil(top / Math.min(CLASSES, top));
    var classes = Math.ceil(top / width);
    var first = CLASSES - classes;
    for (var k = 0; k < classes; k++) {
      var low = 1 + k * width;
      out.push({ low: low, high: Math.min(low + width - 1, top), colour: first + k + 1 });
    }
    return out;
  }

  function paintDistricts() {
    var top = 0;
    var byCode = {};
    doc.districts.forEach(function (code, n) {
      if (districtLayers[code]) {
        byCode[code] = counts.perDistrict[n];
        top = Math.max(top, counts.perDistrict[n]);
      }
    });
    var classes = bins(top);
    Object.keys(districtLayers).forEach(function (code) {
      var path = districtLayers[code].getElement();
      var count = byCode[code] || 0;
      districtLayers[code].districtCount = count;
      var found = classes.filter(function (bin) { return bin.low <= count && count <= bin.high; })[0];
      if (path) {
        for (var k = 0; k <= CLASSES; k++) {
          path.classList.remove('c-' + k);
        }
        path.classList.add('c-' + found.colour);
      }
    });
    // The legend: one line per class.
    classList.textContent = '';
    classes.forEach(function (bin) {
      var item = el('li');
      var swatch = el('span', 'swatch c-' + bin.colour);
      swatch.setAttribute('aria-hidden', 'true');
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(' ' + (bin.low === bin.high ? bin.low : bin.low + '–' + bin.high)));
      classList.appendChild(item);
    });
  }

  function districtTooltip(code) {
    return function () {
      var box = el('div');
      box.appendChild(el('strong', '', label('district', code)));
      box.appendChild(document.createTextNode(': ' + (districtLayers[code].districtCount || 0)));
      return box;
    };
  }

  function escapeText(value) {
    // Leaflet's attribution control takes HTML: these lines are our own, escaped anyway.
    return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function buildMap(districts, metro) {
    mapNode.hidden = false;
    mapNode.setAttribute('role', 'region');
    mapNode.setAttribute('aria-label', text.map);
    map = L.map(mapNode, {
      minZoom: MIN_ZOOM,
      maxZoom: MAX_ZOOM,
      zoomSnap: 1,
      preferCanvas: false
    });
    map.attributionControl.setPrefix(false);
    config.attribution.forEach(function (line) {
      map.attributionControl.addAttribution(escapeText(line));
    });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, {
        subdomains: config.tile_subdomains, // the origins the page's CSP allows
        minZoom: MIN_ZOOM,
        maxZoom: MAX_ZOOM,
        attribution: escapeText(new URL(config.tile_url.replace(/\{[^}]*\}/g, 'a'), window.location.href).host)
      }).addTo(map);
    }
    var districtLayer = L.geoJSON(districts, {
      style: function () {
        return { className: 'district', weight: 1, fillOpacity: 0.55 };
      },
      onEachFeature: function (feature, layer) {
        var code = feature.properties.code;
        districtLayers[code] = layer;
        layer.bindTooltip(districtTooltip(code), { sticky: true });
      }
    }).addTo(map);
    L.geoJSON(metro, {
      filter: function (feature) { return feature.geometry.type !== 'Point'; },
      style: function () {
        return { className: 'metro', weight: 2, interactive: false };
      },
      interactive: false
    }).addTo(map);
    var bounds = districtLayer.getBounds();
    map.fitBounds(bounds);
    map.setMaxBounds(bounds.pad(0.5));
    clusters = L.layerGroup().addTo(map);
    map.on('moveend', draw);
  }

  function update() {
    applyFilters();
    showQuery();
    draw();
  }

  /* A filter that cannot be used: say so (the server's words for it), draw nothing,
     and keep the filters open with the link that clears them. */
  function refuse(field) {
    refused = true;
    errorNode.textContent = config.bad_filter[field] || config.bad_filter.type;
    errorNode.hidden = false;
    mapNode.hidden = true;
    legend.hidden = true;
    statusNode.textContent = '';
    delete statusNode.dataset.total;
    delete statusNode.dataset.onMap;
    delete statusNode.dataset.clustered;
    statusNode.dataset.ready = 'refused';
    if (panel) {
      panel.hidden = false;
      panel.open = true;
    }
  }

  /* New filters from the form or the clear link: draw them, or refuse them. */
  function use(parsed) {
    if (parsed.bad) {
      refuse(parsed.bad);
      return;
    }
    state = parsed.state;
    if (refused) {
      refused = false;
      errorNode.hidden = true;
      errorNode.textContent = '';
      mapNode.hidden = false;
      legend.hidden = false;
    }
    if (!map) {
      buildMap(basemap[0], basemap[1]);
    } else {
      map.invalidateSize();
    }
    update();
  }

  function start(data, districts, metro) {
    doc = data;
    if (doc.format !== FORMAT) {
      throw new Error('map.json format ' + doc.format);
    }
    basemap = [districts, metro];
    var parsed = parseQuery(window.location.search);
    state = parsed.state;
    toForm(state);
    if (serverCount) {
      serverCount.hidden = true;
    }
    // The server's summary of the filters in use would go stale: the form is the state.
    Array.prototype.forEach.call(
      document.querySelectorAll('.map-page .active-filters, .map-page .filter-group .chosen'),
      function (node) { node.hidden = true; });
    if (panel) {
      panel.hidden = false;
      // Open beside the map on a wide screen; on a phone closed, so the map shows (its
      // summary says how many choices are in use).
      panel.open = window.matchMedia('(min-width: 64rem)').matches;
    }
    if (parsed.bad) {
      refuse(parsed.bad);
    } else {
      legend.hidden = false;
      buildMap(districts, metro);
      update();
    }
    if (form) {
      form.addEventListener('change', function () {
        use(fromForm());
      });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        use(fromForm());
      });
      var show = document.getElementById('map-show'); // the static site's controls
      if (show) {
        show.addEventListener('click', function () {
          use(fromForm());
        });
      }
      var clear = document.getElementById('map-clear');
      if (clear) {
        clear.addEventListener('click', function (event) {
          event.preventDefault();
          toForm(emptyState());
          use({ state: emptyState(), bad: null });
        });
      }
    }
  }

  function getJson(url) {
    return window.fetch(url, { credentials: 'omit' }).then(function (response) {
      if (!response.ok) {
        throw new Error(url + ': ' + response.status);
      }
      return response.json();
    });
  }

  statusNode.textContent = '';
  Promise.all([getJson(config.data_url), getJson(config.districts_url), getJson(config.metro_url)])
    .then(function (found) {
      start(found[0], found[1], found[2]);
    })
    .catch(function (error) {
      statusNode.textContent = text.failed;
      statusNode.dataset.ready = 'error';
      mapNode.hidden = true;
      if (window.console) {
        window.console.warn(error);
      }
    });
}());
