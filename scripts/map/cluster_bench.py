# ruff: noqa: E501  (the page below is minified JavaScript kept as one block)
"""Time clustering 100,000 random Baku points with supercluster and Leaflet.markercluster.

Run once by hand to choose the map's clusterer (figures in
public_map/static/README.md); not a test and not in ``make bench``. Loads the
vendored files in headless Chromium (Playwright, /usr/bin/chromium) from a
temporary page, three runs each, and prints milliseconds per run.

Usage: .venv/bin/python scripts/map/cluster_bench.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

VENDOR = (Path(__file__).resolve().parents[2] / "public_map" / "static" / "vendor").as_uri()
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{vendor}/leaflet-1.9.4/leaflet.css">
<link rel="stylesheet" href="{vendor}/leaflet.markercluster-1.5.3/MarkerCluster.css">
<link rel="stylesheet" href="{vendor}/leaflet.markercluster-1.5.3/MarkerCluster.Default.css">
<script src="{vendor}/leaflet-1.9.4/leaflet.js"></script>
<script src="{vendor}/leaflet.markercluster-1.5.3/leaflet.markercluster.js"></script>
<script src="{vendor}/supercluster-8.0.1/supercluster.min.js"></script>
</head><body><div id="map" style="width:1280px;height:800px"></div>
<script>
function rng(seed){{return function(){{seed=(seed*1664525+1013904223)>>>0;return seed/4294967296;}}}}
function points(n){{const r=rng(42),a=new Array(n);for(let i=0;i<n;i++){{a[i]=[40.28+r()*0.27,49.70+r()*0.55];}}return a;}}
window.benchSuper=function(n){{
  const pts=points(n);
  const feats=pts.map((p,i)=>({{type:'Feature',properties:{{i}},geometry:{{type:'Point',coordinates:[p[1],p[0]]}}}}));
  const t0=performance.now();
  const index=new Supercluster({{radius:60,maxZoom:17}}).load(feats);
  const t1=performance.now();
  const c=index.getClusters([49.5,40.1,50.5,40.7],11);
  const t2=performance.now();
  let total=0;for(const f of c){{total+=f.properties.cluster?f.properties.point_count:1;}}
  return {{load:t1-t0,query:t2-t1,clusters:c.length,total}};
}};
window.benchMC=function(n){{
  const pts=points(n);
  const map=L.map('map',{{maxZoom:18,zoomControl:false,attributionControl:false}}).setView([40.41,49.95],11);
  const t0=performance.now();
  const markers=pts.map(p=>L.marker(p));
  const t1=performance.now();
  const g=L.markerClusterGroup({{chunkedLoading:false}});
  g.addLayers(markers);
  map.addLayer(g);
  const t2=performance.now();
  return {{markers:t1-t0,cluster:t2-t1,visible:document.querySelectorAll('.leaflet-marker-icon').length}};
}};
</script></body></html>
"""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "bench.html"
        page_path.write_text(PAGE.format(vendor=VENDOR), encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            for function in ("benchSuper", "benchMC"):
                for run in range(3):
                    page = browser.new_page()
                    page.goto(page_path.as_uri())
                    result = page.evaluate(f"{function}({n})")
                    print(function, n, run, json.dumps(result), flush=True)
                    page.close()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
