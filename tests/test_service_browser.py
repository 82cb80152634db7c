"""The service's student page in a real browser (markers ``browser`` and ``service``): headless Chromium
signs in with a student's personal link, uploads a notebook, watches it being graded and reads the
feedback. Requests that leave the service are blocked and reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, is_local_url
from service_fixture import FULL, GRADE_TIMEOUT, PARTIAL, PARTIAL_IDS, Service, notebooks
from test_grade import ASSIGNMENT, POINTS, generated_course

pytestmark = [pytest.mark.browser, pytest.mark.service]


def test_a_student_signs_in_uploads_and_reads_the_feedback(playwright, chromium: Path, service: Service,
                                                           tmp_path: Path, tmp_path_factory) -> None:
    data, expected = notebooks(generated_course(tmp_path_factory))["partial"]
    assert expected == PARTIAL
    upload = tmp_path / "my work.ipynb"
    upload.write_bytes(data)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="service-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=str(chromium),
                                                                headless=True, args=CHROMIUM_ARGS)
        context.route("**/*", lambda route: route.continue_() if is_local_url(route.request.url, service.url)
                      else route.abort())
        try:
            page = context.new_page()
            page.on("pageerror", lambda err: problems.append(f"uncaught: {err}"))
            page.on("request", lambda req: None if is_local_url(req.url, service.url)
                    else problems.append(f"request leaving the service: {req.url}"))
            # the personal link: the token is in the fragment, which the page posts and then removes
            page.goto(f"{service.url}/login#token={service.tokens['dave']}")
            page.wait_for_url(f"{service.url}/student", timeout=30_000)
            assert "token" not in page.url
            assert "Submissions of dave" in page.inner_text("h1")

            page.select_option("#assignment", ASSIGNMENT)
            page.set_input_files("#notebook", str(upload))
            page.click("button:has-text('Submit')")
            page.wait_for_url(f"{service.url}/student", timeout=30_000)
            row = page.locator("#submissions tbody tr").first
            assert row.locator("td").nth(1).inner_text() == ASSIGNMENT
            # the page refreshes itself while the submission is queued or being graded
            page.wait_for_selector("#submissions tbody tr:first-child .state-graded",
                                   timeout=GRADE_TIMEOUT * 1000)
            row = page.locator("#submissions tbody tr").first
            assert row.locator("td").nth(4).inner_text() == f"{PARTIAL:g} / {FULL:g}"

            row.locator("a:has-text('feedback')").click()
            page.wait_for_load_state()
            text = page.inner_text("body")
            assert f"Feedback: {ASSIGNMENT}" in text
            assert f"Score: {PARTIAL:g} / {FULL:g}" in text
            for exercise in POINTS:  # each exercise's row says passed exactly for the solved ones
                tr = page.locator("tbody tr", has=page.locator(f"code:text-is('{exercise}')"))
                want = "passed" if exercise in PARTIAL_IDS else "failed"
                assert tr.locator(f"td.{want}").count() == 1, (exercise, tr.inner_text())
        finally:
            context.close()
    assert not problems, problems
