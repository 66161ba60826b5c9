"""PostgreSQL's part of the gate: GX's SQL datasource, in-database (a table asset per audit table). The GX
asset and batch definition are Engine.gx_batch's (cvw.engines.base)."""

from __future__ import annotations

import os
from typing import Any

from cvw.engines.base import GxData
from cvw.engines.postgres.connection import _ident, sqlalchemy_url


class PostgresGate:
    """The gate hook of the PostgreSQL engine (mixed into PostgresEngine)."""

    def gx_data(self, context: Any, schema: str, table: str, columns: list[str] | None) -> GxData:
        """GX's SQL datasource, in-database: a table asset on `schema.table`, whole table, no parameters.

        The connection string stored in the GX project is only `${CVW_PG_SQLALCHEMY_URL}`, set here from
        CVW_PG_*: no password is written to disk. PostgreSQL has no avg(boolean), so a table with boolean
        columns is validated through a query asset that reads them as 0/1 (as on every engine); every other
        column is passed through unchanged.
        """
        from cvw.db import NotReadyError

        os.environ["CVW_PG_SQLALCHEMY_URL"] = sqlalchemy_url()
        source = context.data_sources.add_or_update_postgres(
            "audit_postgres", connection_string="${CVW_PG_SQLALCHEMY_URL}"
        )
        self._gx_sources.append(source)
        types = self.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        )
        if not types:
            raise NotReadyError(f"{schema}.{table} does not exist: build this as-of date first "
                                "(`cvw build --as-of YYYY-MM-DD`, or `cvw run`)")
        rows = int(self.query(f"select count(*) from {_ident(schema)}.{_ident(table)}")[0][0])
        if any(t == "boolean" for _, t in types):
            select = ", ".join(f"{_ident(c)}::integer as {_ident(c)}" if t == "boolean" else _ident(c)
                               for c, t in types)
            query = f"select {select} from {_ident(schema)}.{_ident(table)}"
            return GxData(source, lambda s: s.add_query_asset(table, query=query), rows=rows, replace_asset=True)
        return GxData(source, lambda s: s.add_table_asset(table, table_name=table, schema_name=schema), rows=rows)
