"""Slices: which part of the business a figure is about, as SQL conditions.

A `Slice` narrows every KPI the same way: by the person a record counts for (one manager, or
the current members of one department), by its client's industry, region and lead source, and
by product line. Each kind of record has a `Subject` saying which of its columns each filter
looks at; `conditions()` turns a slice into the WHERE clauses for that subject, in one place.

What each filter looks at:

| subject      | owner, department     | industry, region, lead source | product line     |
| ------------ | --------------------- | ----------------------------- | ---------------- |
| CLIENTS      | Client.owner_id       | the client's own              | not applicable   |
| INTERACTIONS | Interaction.author_id | its client's                  | not applicable   |
| DEALS        | Deal.owner_id         | its client's                  | the deal's       |
| COMPLAINTS   | the client's owner    | its client's                  | the complaint's  |
| SURVEYS      | Survey.owner_id       | its client's                  | the survey's     |
| TASKS        | Task.owner_id         | its client's (none: excluded) | not applicable   |

"Not applicable" means `conditions()` returns None: a figure about contacts logged cannot be
narrowed to a product line, so it is shown as "—", never as a misleading 0 or as the unsliced
number. Access is not checked here (see bot.services.kpi.check_slice): this module only
builds SQL and imports nothing but the models, so any service can take a Slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select

from db.models import Client, Complaint, Deal, Interaction, Survey, Task, User


@dataclass(frozen=True)
class Slice:
    """All filters optional; none at all is the whole company."""

    owner_id: int | None = None
    department_id: int | None = None
    product_line_id: int | None = None
    industry_id: int | None = None
    region_id: int | None = None
    lead_source_id: int | None = None

    @property
    def company(self) -> bool:
        """No person filter: everyone's records (admins only)."""
        return self.owner_id is None and self.department_id is None

    @property
    def people_only(self) -> bool:
        """Only a person filter (or none): the slice a plan is set for."""
        return (
            self.product_line_id is None
            and self.industry_id is None
            and self.region_id is None
            and self.lead_source_id is None
        )


WHOLE_COMPANY = Slice()


@dataclass(frozen=True)
class Subject:
    """The columns of one kind of record that a slice filters on.

    `person` None means "the client's owner". `client_id` None means the client's columns are
    at hand: the record is the client itself, or every query over it joins its client (then
    the filters go straight on Client, much cheaper than an IN list of thousands of client
    ids). `product_line` None means a product line filter does not apply."""

    entity: Any
    person: Any
    client_id: Any
    product_line: Any


CLIENTS = Subject(Client, Client.owner_id, None, None)
INTERACTIONS = Subject(Interaction, Interaction.author_id, Interaction.client_id, None)
DEALS = Subject(Deal, Deal.owner_id, Deal.client_id, Deal.product_line_id)
# Queries over complaints and surveys join their client (as complaints.figures and
# surveys.figures always did).
COMPLAINTS = Subject(Complaint, None, None, Complaint.product_line_id)
SURVEYS = Subject(Survey, Survey.owner_id, None, Survey.product_line_id)
TASKS = Subject(Task, Task.owner_id, Task.client_id, None)


def applies(slice: Slice, subject: Subject) -> bool:
    return slice.product_line_id is None or subject.product_line is not None


def people(slice: Slice, column: Any) -> list[ColumnElement[bool]]:
    """The person filters on a user id column: one user, or a department's current members
    (as plans count them)."""
    conditions: list[ColumnElement[bool]] = []
    if slice.owner_id is not None:
        conditions.append(column == slice.owner_id)
    if slice.department_id is not None:
        team = select(User.id).where(User.department_id == slice.department_id)
        conditions.append(column.in_(team.correlate(None).scalar_subquery()))
    return conditions


def _client_attributes(slice: Slice) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if slice.industry_id is not None:
        conditions.append(Client.industry_id == slice.industry_id)
    if slice.region_id is not None:
        conditions.append(Client.region_id == slice.region_id)
    if slice.lead_source_id is not None:
        conditions.append(Client.lead_source_id == slice.lead_source_id)
    return conditions


def conditions(slice: Slice, subject: Subject) -> list[ColumnElement[bool]] | None:
    """WHERE clauses narrowing `subject`'s records to the slice; None when the slice cannot
    apply to them (a product line on contacts, clients or tasks). For subjects with a
    `client_id`, client attributes go through a subquery on clients, so the caller needs no
    join (the subqueries never correlate: a caller that joins clients or users for its own
    grouping gets the same rows)."""
    if not applies(slice, subject):
        return None
    result: list[ColumnElement[bool]] = []
    on_client = _client_attributes(slice)
    if subject.person is None:
        on_client += people(slice, Client.owner_id)
    else:
        result += people(slice, subject.person)
    if on_client:
        if subject.client_id is None:
            result += on_client
        else:
            clients = select(Client.id).where(*on_client).correlate(None)
            result.append(subject.client_id.in_(clients.scalar_subquery()))
    if slice.product_line_id is not None:
        result.append(subject.product_line == slice.product_line_id)
    return result
