"""The landing contract in Python and its mirror in the dbt project agree."""

from __future__ import annotations

import re

import pytest
from cvw.contract import ENTITIES
from cvw.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.unit

# staging renames a few contract columns
STAGING_RENAMES = {"as_of_date": "installed_as_of_date"}


def test_dbt_entity_keys_mirror_the_contract():
    text = (DBT_PROJECT_DIR / "macros" / "entities.sql").read_text()
    dbt_keys = {
        name: re.findall(r"'([a-z_]+)'", keys)
        for name, keys in re.findall(r"'([a-z_]+)': \[([^\]]*)\]", text)
    }
    expected = {name: [STAGING_RENAMES.get(k, k) for k in e.key] for name, e in ENTITIES.items()}
    assert dbt_keys == expected


def test_every_entity_has_a_source_and_a_staging_model():
    sources = (DBT_PROJECT_DIR / "models" / "staging" / "crm" / "_crm__sources.yml").read_text()
    for name, entity in ENTITIES.items():
        assert f"- name: {name}\n" in sources
        staging = DBT_PROJECT_DIR / "models" / "staging" / "crm" / f"stg_crm__{name}.sql"
        assert staging.exists()
        assert all(c in sources for c in entity.columns)
