"""The collector's API docs work offline: Chromium, with every request off this machine refused, lists the
operations."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Route


def test_docs_list_the_operations_with_no_internet(context: BrowserContext, collector_url: str) -> None:
    elsewhere: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(collector_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    page.goto(f"{collector_url}/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/events" in operations and "/v1/server-events" in operations and "/v1/progress" in operations
    assert elsewhere == []
