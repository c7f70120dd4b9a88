"""Search in the Wagtail admin: editors manage synonyms (a report row's "Add synonym" opens the
form with its query filled in), and read the search report under Reports."""

from django.urls import path, reverse
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import CreateView, SnippetViewSet

from search import reports
from search.models import Synonym


class SynonymCreateView(CreateView):
    def get_initial(self):
        return {**super().get_initial(), "terms": self.request.GET.get("terms", "")[:500]}


class SynonymViewSet(SnippetViewSet):
    model = Synonym
    icon = "search"
    menu_label = "Search synonyms"
    menu_order = 900
    add_to_settings_menu = True
    list_display = ["terms"]
    search_fields = ["terms"]
    add_view_class = SynonymCreateView


register_snippet(SynonymViewSet)


class SearchReportMenuItem(MenuItem):
    def is_shown(self, request):
        return reports.may_view(request.user)


@hooks.register("register_admin_urls")
def search_report_urls():
    return [path("reports/searches/", reports.SearchReportView.as_view(), name="search_report")]


@hooks.register("register_reports_menu_item")
def search_report_menu_item():
    return SearchReportMenuItem(
        "Searches", reverse("search_report"), name="searches", icon_name="search", order=1100
    )
