"""DuckDB's part of the gate: GX's SQL datasource does not work on DuckDB (PITFALLS 3), so a table goes
DuckDB -> Arrow -> pandas, with only the columns the suite reads, decimals as doubles, booleans as 0/1 (as on
every engine) and text as Arrow-backed strings (an 8M-row table then costs hundreds of MB, not GBs of Python
objects). The GX asset and batch definition are Engine.gx_batch's (cvw.engines.base)."""

from __future__ import annotations

from typing import Any

from cvw import db
from cvw.db import NotReadyError
from cvw.engines.base import GxData


class DuckDBGate:
    """The gate hook of the DuckDB engine (mixed into DuckDBEngine)."""

    def gx_data(self, context: Any, schema: str, table: str, columns: list[str] | None) -> GxData:
        import pandas as pd
        import pyarrow as pa

        with db.connect(self.settings.warehouse, read_only=True) as con:
            types = dict(con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table],
            ).fetchall())
            if not types:
                raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                    "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
            names = [c for c in (columns or types) if c in types]
            select = ", ".join(
                f'cast("{c}" as double) as "{c}"' if types[c].upper().startswith("DECIMAL")
                else f'cast("{c}" as integer) as "{c}"' if types[c].upper() == "BOOLEAN" else f'"{c}"'
                for c in names
            )
            arrow = con.sql(f"select {select} from {schema}.{table}").to_arrow_table()
        string = pd.StringDtype("pyarrow")
        df = arrow.to_pandas(types_mapper=lambda t: string if t in (pa.string(), pa.large_string()) else None)
        del arrow
        return GxData(
            source=context.data_sources.add_or_update_pandas("audit_marts"),
            new_asset=lambda source: source.add_dataframe_asset(table),
            batch_parameters={"dataframe": df},
            rows=len(df),
        )
