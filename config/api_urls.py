from django.urls import path

from apps.analytics import api as analytics
from apps.billing import api as billing

urlpatterns = [
    path("usage/daily/", analytics.UsageDailyView.as_view(), name="usage-daily"),
    path("users/<int:user_id>/usage/", analytics.UserUsageView.as_view(), name="user-usage"),
    path("users/<int:user_id>/usage/total/", analytics.UserUsageTotalView.as_view(), name="user-usage-total"),
    path("users/<int:user_id>/operations/", billing.UserOperationsView.as_view(), name="user-operations"),
    path("users/<int:user_id>/balance/", billing.UserBalanceView.as_view(), name="user-balance"),
    path("llm/costs/", billing.LLMCostsView.as_view(), name="llm-costs"),
    path("events/", analytics.EventsView.as_view(), name="events"),
    path("funnel/", analytics.FunnelView.as_view(), name="funnel"),
    path("response-times/", analytics.ResponseTimesView.as_view(), name="response-times"),
    path("retention/", analytics.RetentionView.as_view(), name="retention"),
    path("activity/daily/", analytics.ActivityDailyView.as_view(), name="activity-daily"),
    path("activity/active-users/", analytics.ActiveUsersView.as_view(), name="active-users"),
    path("users/stages/", billing.JourneyStagesView.as_view(), name="journey-stages"),
]
