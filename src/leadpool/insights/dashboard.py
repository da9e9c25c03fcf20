"""The dashboard's insights page: rates with intervals by segment, bounce by email_status, reply
rate by local hour. The admin sees the whole platform; an agency its own figures and the
privacy-safe platform view, side by side."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal
from leadpool.dashboard.pages import render_page
from leadpool.insights.charts import interval_chart, rows_for
from leadpool.insights.report import insights_report

router = APIRouter(include_in_schema=False)


def _charts(view: dict[str, Any], who: str) -> list[Any]:
    hours = sorted(
        view["reply_by_local_hour"],
        key=lambda c: int(c["segment"]["local_hour"]) if str(c["segment"]["local_hour"]).isdigit() else 99,
    )
    return [
        interval_chart(
            rows_for(view["top_segments"]["positive"], "positive"),
            title=f"{who}: positive-reply rate by segment (top)",
        ),
        interval_chart(
            rows_for(view["top_segments"]["reply"], "reply"), title=f"{who}: reply rate by segment (top)"
        ),
        interval_chart(
            rows_for(view["bounce_by_email_status"], "bounce"), title=f"{who}: bounce rate by email_status"
        ),
        interval_chart(
            rows_for(view["bounce_by_data_age"], "bounce"), title=f"{who}: bounce rate by data age"
        ),
        interval_chart(rows_for(hours, "reply"), title=f"{who}: reply rate by local hour"),
    ]


@router.get("/insights")
def insights_page(request: Request) -> Response:
    def build(session: Session, principal: Principal) -> dict[str, Any]:
        report = insights_report(session, agency_id=principal.agency_id)
        if principal.is_admin:
            views = [("Platform", report["all"])]
        else:
            views = [("Your agency", report["own"]), ("Platform (privacy-safe)", report["platform"])]
        return {
            "report": report,
            "sections": [
                {"title": t, "charts": _charts(v, t), "suggestions": v["suggestions"]} for t, v in views
            ],
        }

    return render_page(request, "insights.html", build)
