"""The web console (issue #16) in a real browser: Debian's chromium, headless, driven by Selenium
through chromium-driver, against a real `strom serve` with data the test made. Every page must load
without console errors and show what the test created; screenshots of each page at 1280x800 and
390x844 go to $STROM_CONSOLE_SCREENSHOTS (default: a temporary directory) — docs/console/ holds
the committed ones."""

from __future__ import annotations

import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from strom_server import create_topic, unique_topic

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed (scripts/install-dependencies.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, port=0)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()  # closes chromium, then stops chromium-driver by its process
        assert service.process is None or service.process.poll() is not None, "chromium-driver still running"


def screenshots_dir() -> Path:
    path = Path(os.environ.get("STROM_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="strom-console-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def visit(driver, url: str, name: str):
    """Loads `url`, fails on any console error, and saves a screenshot at each viewport."""
    for viewport, (width, height, mobile) in VIEWPORTS.items():
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        driver.get(url)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], f"console errors on {url}: {errors}"
        # A page readable on a phone: nothing wider than the window but the scrolling tables.
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow} px wider than a {width} px window"
        driver.save_screenshot(str(screenshots_dir() / f"{name}-{viewport}.png"))


def test_the_overview_shows_the_broker_its_partitions_and_the_throughput_chart(server, browser):
    from selenium.webdriver.common.by import By
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 3)
    visit(browser, f"{server.admin_url}/", "overview")
    assert browser.title == "Overview · Strom"
    cards = {card.find_element(By.CLASS_NAME, "label").text: card.find_element(By.CLASS_NAME, "value").text
             for card in browser.find_elements(By.CLASS_NAME, "card")}
    assert cards["Brokers"] == "1" and cards["Offline"] == "0" and cards["Under-replicated"] == "0"
    assert int(cards["Partitions"]) >= 3 and int(cards["Topics"]) >= 1
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")]
    assert any(row.startswith("0 (controller) alive 127.0.0.1:") for row in rows), rows
    assert browser.find_elements(By.TAG_NAME, "figure"), "the throughput chart's place"


def test_topics_are_listed_filtered_and_paged(server, browser):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    prefix = unique_topic()
    names = [f"{prefix}-{index:02d}" for index in range(55)]
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in admin.create_topics([NewTopic(name, 2, 1) for name in names]).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for index in range(40):
        producer.produce(names[0], f"record {index}".encode(), partition=index % 2)
    assert producer.flush(15) == 0

    from selenium.webdriver.common.by import By
    visit(browser, f"{server.admin_url}/topics?q={prefix}", "topics")
    rows = [row.find_elements(By.TAG_NAME, "td") for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")]
    assert len(rows) == 50, "a page holds 50 topics"
    first = [cell.text for cell in rows[0]]
    assert first[0] == names[0] and first[1] == "2" and first[2] == "1" and first[4] == "40" and first[5] == "healthy", first
    browser.find_element(By.LINK_TEXT, "Next →").click()
    assert [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")] == names[50:]
    # The filter form narrows the list (a plain GET form: no script).
    box = browser.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(names[7])
    box.submit()
    assert [row.find_element(By.TAG_NAME, "td").text for row in browser.find_elements(By.CSS_SELECTOR, "main tbody tr")] == [names[7]]


def test_a_topic_page_shows_its_partitions_and_configs_with_their_sources(server, browser):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from selenium.webdriver.common.by import By
    topic = unique_topic()
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1, config={"retention.ms": "3600000"})])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for index in range(30):
        producer.produce(topic, f"record {index}".encode(), partition=index % 3)
    assert producer.flush(15) == 0

    browser.get(f"{server.admin_url}/topics?q={topic}")
    browser.find_element(By.LINK_TEXT, topic).click()
    assert browser.current_url == f"{server.admin_url}/topics/{topic}"
    visit(browser, browser.current_url, "topic")
    tables = browser.find_elements(By.CSS_SELECTOR, "main table")
    partitions = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[8]) for row in partitions] == [
        (str(p), "0", "0", "0", "0", "10", "10", "in sync") for p in range(3)], partitions
    configs = {row.find_elements(By.TAG_NAME, "td")[0].text: [cell.text for cell in row.find_elements(By.TAG_NAME, "td")[1:]]
               for row in tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert configs["retention.ms"] == ["3600000", "DYNAMIC_TOPIC_CONFIG"]
    assert configs["cleanup.policy"] == ["delete", "DEFAULT_CONFIG"]
    # The same sources Kafka's admin client reads.
    from confluent_kafka.admin import ConfigResource, ResourceType
    resource = ConfigResource(ResourceType.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    assert described["retention.ms"].source == 1 and described["cleanup.policy"].source == 5  # DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG
    missing = urllib.request.Request(f"{server.admin_url}/topics/no-such-topic")
    try:
        urllib.request.urlopen(missing, timeout=10)
        raise AssertionError("a missing topic is a 404")
    except urllib.error.HTTPError as error:
        assert error.code == 404


def test_the_alerts_page_shows_a_firing_alert_its_event_and_the_rules(data_dir, browser):
    """A topic wants two in-sync replicas on a single broker: its partition is under min ISR at
    once, so the rule fires; the page shows it now, in the history, and the rule."""
    import json
    from selenium.webdriver.common.by import By
    from strom_server import StromServer
    topic = unique_topic()
    rules = data_dir / "alerts.json"
    rules.write_text(json.dumps({"rules": ["underisr"], "underisr": {
        "condition": "partition_under_min_isr", "topics": topic, "annotations": ["summary={topic}-{partition} has too few replicas"]}}))
    server = StromServer(data_dir / "broker", overrides={"alerts.file": str(rules)}).start()
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1, config={"min.insync.replicas": "2"})])[topic].result(timeout=30)
        deadline = time.monotonic() + 20
        while True:
            browser.get(f"{server.admin_url}/alerts")
            if browser.find_elements(By.XPATH, "//td[text()='firing']"):
                break
            assert time.monotonic() < deadline, "the alert firing on the page within 20 s"
            time.sleep(0.5)
        visit(browser, f"{server.admin_url}/alerts", "alerts")
        tables = browser.find_elements(By.CSS_SELECTOR, "main table")
        now = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [(row[0], row[1], row[4], row[5]) for row in now] == [
            ("underisr", "firing", f"partition=0 topic={topic}", f"{topic}-0 has too few replicas")], now
        events = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[1].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [(row[1], row[2]) for row in events] == [("firing", "underisr")], events
        rules_rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in tables[2].find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert rules_rows == [["underisr", "*", topic, "0 s"]], rules_rows
    finally:
        assert server.stop() == 0


def test_pages_escape_what_they_show(server):
    """A topic name cannot carry markup into the page, and a filter value neither."""
    with urllib.request.urlopen(f"{server.admin_url}/topics?q=%3Cscript%3Ealert(1)%3C/script%3E", timeout=10) as answer:
        page = answer.read().decode()
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_throughput_chart_draws_what_was_produced_and_consumed(server, browser):
    """The broker keeps a point every 10 s: with a producer and a consumer running, the overview's
    chart gains its two lines within a bounded wait, and the last interval's rate is shown."""
    from selenium.webdriver.common.by import By
    from test_operations import SteadyProducer, consume_for, group_consumer
    topic = unique_topic()
    create_topic(server.bootstrap, topic, 1)
    with SteadyProducer(server.bootstrap, topic, rate=200):
        consumer = group_consumer(server.bootstrap, unique_topic(), topic)
        try:
            deadline = time.monotonic() + 40
            while True:
                consume_for(consumer, 1)
                browser.get(f"{server.admin_url}/")
                if len(browser.find_elements(By.CSS_SELECTOR, "figure svg polyline")) == 2:
                    break
                assert time.monotonic() < deadline, "the chart drawn within 40 s"
            consume_for(consumer, 1)
        finally:
            consumer.close()
    summary = browser.find_element(By.XPATH, "//p[starts-with(text(), 'Last 10 s:')]").text
    rate = float(summary.split()[3].rstrip("k"))
    assert rate > 0, summary
    visit(browser, f"{server.admin_url}/", "overview")
