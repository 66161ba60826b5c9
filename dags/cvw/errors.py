"""Errors a user can act on: the CLI prints their message without a traceback."""

from cvw.audience import AudienceNotPublished
from cvw.clv import FitError
from cvw.db import NotReadyError, WarehouseLockedError
from cvw.dbt import DbtError
from cvw.gate import GateFailed
from cvw.importer import ImportFailed
from cvw.ingest import IngestError
from cvw.pipeline import BackfillFailed
from cvw.publish import AuditAreaChanged
from cvw.run_report import NotPublishedError

USER_ERRORS = (IngestError, DbtError, GateFailed, WarehouseLockedError, BackfillFailed, AuditAreaChanged,
               AudienceNotPublished, FitError, ImportFailed, NotReadyError, NotPublishedError)
