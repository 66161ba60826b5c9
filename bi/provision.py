"""Apply bi/customer_value.yml (datasets, charts, layout) to a running Superset through its REST API.

Idempotent: the database, each dataset and chart and the dashboard are looked up by name (slug for the
dashboard) and updated in place when they exist, so re-applying the file after an edit changes what changed.
Runs in Superset's own virtualenv (.venv-bi; it cannot share Airflow's SQLAlchemy): needs only requests and
PyYAML, both Superset dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
import yaml

SPEC = Path(__file__).with_name("customer_value.yml")
ROW_LIMIT = 10000


def rison(value: Any) -> str:
    """Rison, the URL encoding of Superset's `q=` parameter (enough of it for filters: dicts, lists, scalars)."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}:{rison(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(rison(v) for v in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"


class Superset:
    """A logged-in REST session (JWT + CSRF token)."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 60):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.s = requests.Session()
        r = self.s.post(f"{self.url}/api/v1/security/login", timeout=timeout,
                        json={"username": username, "password": password, "provider": "db", "refresh": True})
        r.raise_for_status()
        self.s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        csrf = self.call("get", "/api/v1/security/csrf_token/")["result"]
        self.s.headers.update({"X-CSRFToken": csrf, "Referer": self.url})

    def call(self, method: str, path: str, **kwargs) -> dict:
        r = self.s.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"Superset {method.upper()} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else {}

    def find(self, resource: str, column: str, value: str) -> int | None:
        q = rison({"filters": [{"col": column, "opr": "eq", "value": value}], "page_size": 100})
        ids = [row["id"] for row in self.call("get", f"/api/v1/{resource}/?q={q}")["result"]]
        return ids[0] if ids else None

    def upsert(self, resource: str, column: str, value: str, body: dict, update: dict | None = None) -> int:
        """Create `body` or, when a row with column == value exists, PUT `update` (default: body) on it."""
        found = self.find(resource, column, value)
        if found is None:
            return self.call("post", f"/api/v1/{resource}/", json=body)["id"]
        self.call("put", f"/api/v1/{resource}/{found}", json=update if update is not None else body)
        return found


def _metric(label: str, sql: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "hasCustomLabel": True,
            "optionName": f"metric_{label}"}


def _listed(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def form_data(chart: dict, dataset_id: int) -> tuple[dict, dict]:
    """(form_data the frontend draws from, the query saved with the chart) for one chart of the spec."""
    viz = chart["viz_type"]
    metrics = [_metric(k, v) for k, v in (chart.get("metrics") or chart.get("metric") or {}).items()]
    where = chart.get("filters")
    row_limit = chart.get("row_limit", ROW_LIMIT)
    fd: dict[str, Any] = {
        "viz_type": viz, "datasource": f"{dataset_id}__table", "row_limit": row_limit,
        "adhoc_filters": [{"expressionType": "SQL", "sqlExpression": where, "clause": "WHERE"}] if where else [],
    }
    columns: list = []
    order = [[chart["order_by"], False]] if chart.get("order_by") else []
    if viz == "table":
        fd.update(query_mode="raw", all_columns=chart["columns"], order_by_cols=[json.dumps(o) for o in order])
        columns = chart["columns"]
    elif viz == "big_number_total":
        fd.update(metric=metrics[0], subheader=chart.get("subheader", ""), y_axis_format=".3~f")
    elif viz == "heatmap_v2":
        fd.update(x_axis=chart["x_axis"], groupby=chart["groupby"], metric=metrics[0], show_values=True,
                  normalize_across="heatmap", linear_color_scheme="superset_seq_1", sort_x_axis="alpha_asc",
                  sort_y_axis="alpha_asc", value_bounds=[None, None], y_axis_format="SMART_NUMBER")
        columns = [chart["x_axis"], chart["groupby"]]
    else:  # echarts_timeseries_bar / _line with a categorical or numeric x axis
        fd.update(x_axis=chart["x_axis"], metrics=metrics, groupby=_listed(chart.get("groupby")),
                  x_axis_sort_asc=True, x_axis_sort_series="name", xAxisForceCategorical=True,
                  stack="Stack" if chart.get("stack") else None, show_legend=True, rich_tooltip=True,
                  y_axis_format="SMART_NUMBER", orientation="vertical", order_desc=False)
        columns = [chart["x_axis"], *_listed(chart.get("groupby"))]
    query = {
        "columns": columns, "metrics": metrics, "filters": [], "extras": {"where": where or ""},
        "orderby": order if viz == "table" else [[c, True] for c in columns], "row_limit": row_limit,
    }
    return fd, {"datasource": {"id": dataset_id, "type": "table"}, "force": False, "queries": [query],
                "form_data": fd, "result_format": "json", "result_type": "full"}


def _position(layout: list, charts: dict[str, int], title: str, short: set[str]) -> dict:
    """Superset's position_json: a header, then one row per layout row (a row of only `short` charts, a
    number or a one-row table, is lower)."""
    pos: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": title}},
    }
    for r, row in enumerate(layout, 1):
        row_id = f"ROW-{r}"
        pos["GRID_ID"]["children"].append(row_id)
        pos[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                       "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        height = 30 if all(name in short for name, _ in row) else 50
        for name, width in row:
            chart_id = f"CHART-{charts[name]}"
            pos[row_id]["children"].append(chart_id)
            pos[chart_id] = {"type": "CHART", "id": chart_id, "children": [],
                             "parents": ["ROOT_ID", "GRID_ID", row_id],
                             "meta": {"width": width, "height": height, "chartId": charts[name], "sliceName": name}}
    return pos


def provision(api: Superset, published: Path, spec_path: Path = SPEC) -> dict:
    """Apply the spec; returns {"database": id, "datasets": {name: id}, "charts": {name: id},
    "dashboards": {slug: id}}."""
    spec = yaml.safe_load(spec_path.read_text())
    uri = f"duckdb:///{Path(published).resolve()}?access_mode=read_only"
    db = api.upsert("database", "database_name", spec["database"], {
        "database_name": spec["database"], "sqlalchemy_uri": uri, "expose_in_sqllab": True,
        "allow_run_async": False, "allow_dml": False,
    })
    datasets = {}
    for name, ds in spec["datasets"].items():
        body = {"database": db, "schema": "analytics", "table_name": ds.get("table", name)}
        if "sql" in ds:
            body["sql"] = ds["sql"]
        found = api.find("dataset", "table_name", body["table_name"])
        if found is None:
            found = api.call("post", "/api/v1/dataset/", json=body)["id"]
        elif "sql" in ds:
            api.call("put", f"/api/v1/dataset/{found}?override_columns=true", json={"sql": ds["sql"]})
        api.call("put", f"/api/v1/dataset/{found}/refresh")  # columns as the published table has them now
        datasets[name] = found
    dashboards = {d["slug"]: api.upsert("dashboard", "slug", d["slug"], {
        "dashboard_title": d["title"], "slug": d["slug"], "published": True}) for d in spec["dashboards"]}
    on = {name: [dashboards[d["slug"]] for d in spec["dashboards"] for row in d["layout"] for n, _ in row if n == name]
          for name in spec["charts"]}
    charts = {}
    for name, chart in spec["charts"].items():
        fd, qc = form_data(chart, datasets[chart["dataset"]])
        body = {"slice_name": name, "viz_type": chart["viz_type"], "datasource_id": datasets[chart["dataset"]],
                "datasource_type": "table", "params": json.dumps(fd), "query_context": json.dumps(qc),
                "dashboards": on[name]}
        charts[name] = api.upsert("chart", "slice_name", name, body)
    short = {n for n, c in spec["charts"].items() if c.get("short") or c["viz_type"] == "big_number_total"}
    for d in spec["dashboards"]:
        in_dash = {n: charts[n] for row in d["layout"] for n, _ in row}
        filt = d["filter"]
        metadata = {
            "color_scheme": "supersetColors", "refresh_frequency": 0, "cross_filters_enabled": False,
            "native_filter_configuration": [{
                "id": f"NATIVE_FILTER-{filt['column']}", "name": filt["name"], "filterType": "filter_select",
                "type": "NATIVE_FILTER", "description": "", "cascadeParentIds": [], "tabsInScope": [],
                "targets": [{"datasetId": datasets[filt["dataset"]], "column": {"name": filt["column"]}}],
                "controlValues": {"enableEmptyFilter": False, "defaultToFirstItem": False, "multiSelect": True,
                                  "searchAllOptions": True, "inverseSelection": False},
                "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
                "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                "chartsInScope": sorted(in_dash.values()),
            }],
        }
        api.call("put", f"/api/v1/dashboard/{dashboards[d['slug']]}", json={
            "dashboard_title": d["title"], "slug": d["slug"], "published": True,
            "position_json": json.dumps(_position(d["layout"], charts, d["title"], short)),
            "json_metadata": json.dumps(metadata),
        })
    return {"database": db, "datasets": datasets, "charts": charts, "dashboards": dashboards}


def main(argv: list[str] | None = None) -> int:
    """Apply the spec to a running Superset again (make bi does it at every start)."""
    import argparse
    import os

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8088")
    p.add_argument("--published", type=Path, required=True, help="the published customer_value.duckdb")
    p.add_argument("--spec", type=Path, default=SPEC, help="default: %(default)s")
    args = p.parse_args(argv)
    password = os.environ.get("CVW_BI_ADMIN_PASSWORD")
    if not password:
        raise SystemExit("provision: set CVW_BI_ADMIN_PASSWORD (make bi printed it or kept it in $CVW_HOME/bi)")
    print(json.dumps(provision(Superset(args.url, "admin", password), args.published, args.spec), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
