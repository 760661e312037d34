"""Services people name, and what the planner does with each.

Slack, GitHub and email have nodes of their own. Every other service becomes an
ACTION/HTTP_REQUEST node aimed at its real API (base URL and the usual endpoint for reading or
writing), with a credential name to store and a missing_info entry saying what to fill in:
nothing a request names is silently dropped. URLs hold UPPERCASE placeholders (YOUR_BASE_ID)
where only the user knows the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ServiceKind = Literal["http", "email", "slack", "github", "ai"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str
    body: str | None = None  # "fields": a JSON body built from the data; "text": a message


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    pattern: str
    kind: ServiceKind = "http"
    read: Endpoint | None = None
    write: Endpoint | None = None
    credential: str | None = None
    fill_in: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    noun: str = "record"  # what a write creates: "page", "row", "message"
    # Where people say "a new X in <service>" to mean an event (a webhook trigger).
    events: tuple[str, ...] = ()


def _s(
    key: str,
    name: str,
    pattern: str,
    read: tuple[str, str] | None,
    write: tuple[str, str, str] | None,
    fill_in: str,
    *,
    credential: str | None = "",
    noun: str = "record",
    headers: dict[str, str] | None = None,
    events: tuple[str, ...] = (),
) -> Service:
    return Service(
        key=key,
        name=name,
        pattern=pattern,
        read=Endpoint(*read) if read else None,
        write=Endpoint(*write) if write else None,
        credential=f"{key.replace('_', '-')}-token" if credential == "" else credential,
        fill_in=fill_in,
        headers=headers or {},
        noun=noun,
        events=events,
    )


SERVICES: tuple[Service, ...] = (
    Service(
        "slack",
        "Slack",
        r"slack",
        "slack",
        credential="slack-bot",
        read=Endpoint(
            "GET", "https://slack.com/api/conversations.history?channel=YOUR_CHANNEL_ID&limit=200"
        ),
        fill_in="the id of the channel to read (conversations.history takes an id, not a name)",
    ),
    Service("github", "GitHub", r"github|git\s*hub", "github", credential="github-token"),
    Service(
        "email",
        "Email",
        r"e-?mails?|gmail|outlook|mail|inbox|ses|sendgrid|resend|mailgun|smtp|imap",
        "email",
    ),
    Service(
        "ai",
        "AI",
        r"ai|a\.i\.|openai|gpt[\w.-]*|chatgpt|claude|anthropic|gemini|llms?|deepseek|mistral|"
        r"llama|groq|language model",
        "ai",
    ),
    _s(
        "notion",
        "Notion",
        r"notion",
        ("POST", "https://api.notion.com/v1/databases/YOUR_DATABASE_ID/query"),
        ("POST", "https://api.notion.com/v1/pages", "fields"),
        "the Notion database id (share the database with your integration)",
        noun="page",
        headers={"Notion-Version": "2022-06-28"},
    ),
    _s(
        "airtable",
        "Airtable",
        r"airtable",
        ("GET", "https://api.airtable.com/v0/YOUR_BASE_ID/YOUR_TABLE"),
        ("POST", "https://api.airtable.com/v0/YOUR_BASE_ID/YOUR_TABLE", "fields"),
        "the Airtable base id and table name",
        noun="record",
    ),
    _s(
        "google_sheets",
        "Google Sheets",
        r"google\s*sheets?|spread\s*sheets?|g\s*sheets?|(?:the|a|config|our|my)\s+sheet",
        (
            "GET",
            "https://sheets.googleapis.com/v4/spreadsheets/YOUR_SPREADSHEET_ID/values/Sheet1!A1:Z1000",
        ),
        (
            "POST",
            "https://sheets.googleapis.com/v4/spreadsheets/YOUR_SPREADSHEET_ID/values/Sheet1!A1:append?valueInputOption=USER_ENTERED",
            "row",
        ),
        "the spreadsheet id and sheet name (and a Google OAuth token)",
        noun="row",
    ),
    _s(
        "hubspot",
        "HubSpot",
        r"hub\s*spot",
        ("GET", "https://api.hubapi.com/crm/v3/objects/contacts"),
        ("POST", "https://api.hubapi.com/crm/v3/objects/contacts", "fields"),
        "which HubSpot object to use (contacts by default)",
        noun="contact",
        events=("contact", "deal", "form"),
    ),
    _s(
        "salesforce",
        "Salesforce",
        r"salesforce",
        (
            "GET",
            "https://YOUR_INSTANCE.my.salesforce.com/services/data/v60.0/query?q=SELECT+Id,Name+FROM+Lead",
        ),
        (
            "POST",
            "https://YOUR_INSTANCE.my.salesforce.com/services/data/v60.0/sobjects/Lead",
            "fields",
        ),
        "your Salesforce instance URL and the object to use",
        noun="lead",
    ),
    _s(
        "pipedrive",
        "Pipedrive",
        r"pipedrive",
        ("GET", "https://api.pipedrive.com/v1/deals"),
        ("POST", "https://api.pipedrive.com/v1/deals", "fields"),
        "which Pipedrive object to use",
        noun="deal",
    ),
    _s(
        "trello",
        "Trello",
        r"trello",
        ("GET", "https://api.trello.com/1/boards/YOUR_BOARD_ID/cards"),
        ("POST", "https://api.trello.com/1/cards?idList=YOUR_LIST_ID", "fields"),
        "the Trello board or list id",
        noun="card",
    ),
    _s(
        "jira",
        "Jira",
        r"jira",
        ("GET", "https://YOUR_DOMAIN.atlassian.net/rest/api/3/search?jql=project=YOUR_PROJECT"),
        ("POST", "https://YOUR_DOMAIN.atlassian.net/rest/api/3/issue", "fields"),
        "your Atlassian domain and project key",
        noun="issue",
        events=("issue", "ticket"),
    ),
    _s(
        "linear",
        "Linear",
        r"linear(?:\.app)?(?=\s+(?:issues?|tickets?|team|project|board|backlog)|\s*$|[.,])|"
        r"linear app",
        ("POST", "https://api.linear.app/graphql"),
        ("POST", "https://api.linear.app/graphql", "fields"),
        "the Linear team id (the API is GraphQL)",
        noun="issue",
        events=("issue",),
    ),
    _s(
        "asana",
        "Asana",
        r"asana",
        ("GET", "https://app.asana.com/api/1.0/tasks?project=YOUR_PROJECT_ID"),
        ("POST", "https://app.asana.com/api/1.0/tasks", "fields"),
        "the Asana project id",
        noun="task",
    ),
    _s(
        "clickup",
        "ClickUp",
        r"click\s*up",
        ("GET", "https://api.clickup.com/api/v2/list/YOUR_LIST_ID/task"),
        ("POST", "https://api.clickup.com/api/v2/list/YOUR_LIST_ID/task", "fields"),
        "the ClickUp list id",
        noun="task",
    ),
    _s(
        "monday",
        "monday.com",
        r"monday\.com|monday (?:crm|board)",
        ("POST", "https://api.monday.com/v2"),
        ("POST", "https://api.monday.com/v2", "fields"),
        "the monday.com board id (the API is GraphQL)",
        noun="item",
    ),
    _s(
        "discord",
        "Discord",
        r"discord",
        None,
        ("POST", "https://discord.com/api/webhooks/YOUR_WEBHOOK_ID/YOUR_WEBHOOK_TOKEN", "text"),
        "the Discord channel's webhook URL",
        credential=None,
        noun="message",
    ),
    _s(
        "telegram",
        "Telegram",
        r"telegram",
        ("GET", "https://api.telegram.org/botYOUR_BOT_TOKEN/getUpdates"),
        ("POST", "https://api.telegram.org/botYOUR_BOT_TOKEN/sendMessage", "text"),
        "the Telegram bot token and chat id",
        credential=None,
        noun="message",
        events=("message",),
    ),
    _s(
        "teams",
        "Microsoft Teams",
        r"(?:microsoft|ms)\s+teams|teams channel",
        None,
        ("POST", "https://YOUR_TENANT.webhook.office.com/webhookb2/YOUR_WEBHOOK", "text"),
        "the Teams channel's incoming webhook URL",
        credential=None,
        noun="message",
    ),
    _s(
        "whatsapp",
        "WhatsApp",
        r"whats\s*app",
        None,
        ("POST", "https://graph.facebook.com/v19.0/YOUR_PHONE_NUMBER_ID/messages", "text"),
        "the WhatsApp Business phone number id and recipient",
        noun="message",
    ),
    _s(
        "twilio",
        "Twilio SMS",
        r"twilio|sms|text messages?",
        None,
        (
            "POST",
            "https://api.twilio.com/2010-04-01/Accounts/YOUR_ACCOUNT_SID/Messages.json",
            "text",
        ),
        "the Twilio account SID, sender and recipient numbers",
        noun="SMS",
    ),
    _s(
        "mastodon",
        "Mastodon",
        r"mastodon|toots?",
        None,
        ("POST", "https://YOUR_INSTANCE/api/v1/statuses", "text"),
        "your Mastodon instance URL",
        noun="toot",
    ),
    _s(
        "twitter",
        "X (Twitter)",
        r"twitter|tweets?|x\.com",
        ("GET", "https://api.twitter.com/2/tweets/search/recent?query=YOUR_QUERY"),
        ("POST", "https://api.twitter.com/2/tweets", "text"),
        "what to search or post",
        noun="post",
    ),
    _s(
        "linkedin",
        "LinkedIn",
        r"linked\s*in",
        None,
        ("POST", "https://api.linkedin.com/v2/ugcPosts", "text"),
        "the LinkedIn author URN",
        noun="post",
    ),
    _s(
        "stripe",
        "Stripe",
        r"stripe",
        ("GET", "https://api.stripe.com/v1/charges?limit=100"),
        ("POST", "https://api.stripe.com/v1/customers", "fields"),
        "which Stripe objects to read or create",
        credential="stripe-key",
        noun="object",
        events=("payment", "charge", "subscription", "invoice", "customer", "event", "checkout"),
    ),
    _s(
        "shopify",
        "Shopify",
        r"shopify",
        ("GET", "https://YOUR_STORE.myshopify.com/admin/api/2024-01/orders.json"),
        ("POST", "https://YOUR_STORE.myshopify.com/admin/api/2024-01/orders.json", "fields"),
        "your Shopify store domain",
        noun="order",
        events=("order", "customer", "product"),
    ),
    _s(
        "wordpress",
        "WordPress",
        r"word\s*press",
        ("GET", "https://YOUR_SITE/wp-json/wp/v2/posts"),
        ("POST", "https://YOUR_SITE/wp-json/wp/v2/posts", "fields"),
        "your WordPress site URL and an application password",
        noun="post",
    ),
    _s(
        "google_drive",
        "Google Drive",
        r"google\s*drive|drive folder|(?:the|client's|their|a)\s+drive\b",
        ("GET", "https://www.googleapis.com/drive/v3/files?q='YOUR_FOLDER_ID'+in+parents"),
        ("POST", "https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart", "fields"),
        "the Google Drive folder id",
        noun="file",
    ),
    _s(
        "google_docs",
        "Google Docs",
        r"google\s*docs?",
        ("GET", "https://docs.googleapis.com/v1/documents/YOUR_DOCUMENT_ID"),
        ("POST", "https://docs.googleapis.com/v1/documents/YOUR_DOCUMENT_ID:batchUpdate", "fields"),
        "the Google Docs document id (and a Google OAuth token)",
        noun="document",
    ),
    _s(
        "google_calendar",
        "Google Calendar",
        r"google\s*calendar|calendar",
        ("GET", "https://www.googleapis.com/calendar/v3/calendars/primary/events"),
        ("POST", "https://www.googleapis.com/calendar/v3/calendars/primary/events", "fields"),
        "which calendar to use",
        noun="event",
    ),
    _s(
        "gmail_api",
        "Gmail",
        r"gmail",
        ("GET", "https://gmail.googleapis.com/gmail/v1/users/me/messages?q=is:unread"),
        None,
        "a Google OAuth token with Gmail read access",
        noun="message",
    ),
    _s(
        "mailchimp",
        "Mailchimp",
        r"mailchimp",
        ("GET", "https://YOUR_DC.api.mailchimp.com/3.0/lists/YOUR_LIST_ID/members"),
        ("POST", "https://YOUR_DC.api.mailchimp.com/3.0/lists/YOUR_LIST_ID/members", "fields"),
        "the Mailchimp data centre and audience id",
        noun="member",
    ),
    _s(
        "zendesk",
        "Zendesk",
        r"zendesk",
        ("GET", "https://YOUR_SUBDOMAIN.zendesk.com/api/v2/tickets.json"),
        ("POST", "https://YOUR_SUBDOMAIN.zendesk.com/api/v2/tickets.json", "fields"),
        "your Zendesk subdomain",
        noun="ticket",
        events=("ticket",),
    ),
    _s(
        "intercom",
        "Intercom",
        r"intercom",
        ("GET", "https://api.intercom.io/conversations"),
        ("POST", "https://api.intercom.io/conversations", "fields"),
        "which Intercom workspace to use",
        noun="conversation",
    ),
    _s(
        "quickbooks",
        "QuickBooks",
        r"quick\s*books",
        (
            "GET",
            "https://quickbooks.api.intuit.com/v3/company/YOUR_REALM_ID/query?query=select+*+from+Bill",
        ),
        ("POST", "https://quickbooks.api.intuit.com/v3/company/YOUR_REALM_ID/bill", "fields"),
        "the QuickBooks company (realm) id",
        noun="bill",
    ),
    _s(
        "posthog",
        "PostHog",
        r"posthog",
        ("GET", "https://app.posthog.com/api/projects/YOUR_PROJECT_ID/insights/trend"),
        None,
        "the PostHog project id",
        noun="event",
    ),
    _s(
        "toggl",
        "Toggl",
        r"toggl",
        ("GET", "https://api.track.toggl.com/api/v9/me/time_entries"),
        None,
        "which Toggl workspace to read",
        noun="entry",
    ),
    _s(
        "clockify",
        "Clockify",
        r"clockify",
        ("GET", "https://api.clockify.me/api/v1/workspaces/YOUR_WORKSPACE_ID/clients"),
        ("POST", "https://api.clockify.me/api/v1/workspaces/YOUR_WORKSPACE_ID/clients", "fields"),
        "the Clockify workspace id",
        noun="client",
    ),
    _s(
        "apollo",
        "Apollo",
        r"apollo",
        ("POST", "https://api.apollo.io/v1/organizations/enrich"),
        None,
        "an Apollo API key",
        noun="company",
    ),
    _s(
        "typeform",
        "Typeform",
        r"type\s*form",
        ("GET", "https://api.typeform.com/forms/YOUR_FORM_ID/responses"),
        None,
        "the Typeform form id",
        noun="response",
        events=("submission", "response", "form"),
    ),
    _s(
        "perplexity",
        "Perplexity",
        r"perplexity",
        ("POST", "https://api.perplexity.ai/chat/completions"),
        None,
        "a Perplexity API key and the research question",
        noun="answer",
    ),
    _s(
        "firecrawl",
        "Firecrawl",
        r"firecrawl",
        ("POST", "https://api.firecrawl.dev/v1/scrape"),
        None,
        "a Firecrawl API key",
        noun="page",
    ),
    _s(
        "openweather",
        "OpenWeather",
        r"weather|forecast|rain(?:ing|s)?|temperature",
        (
            "GET",
            "https://api.openweathermap.org/data/2.5/forecast?q=YOUR_CITY&units=metric&appid=YOUR_API_KEY",
        ),
        None,
        "the city and an OpenWeather API key",
        credential=None,
        noun="forecast",
    ),
    _s(
        "hacker_news",
        "Hacker News",
        r"hacker\s*news|\bhn\b",
        ("GET", "https://hacker-news.firebaseio.com/v0/topstories.json"),
        None,
        "nothing (the API is public)",
        credential=None,
        noun="story",
    ),
    _s(
        "reddit",
        "Reddit",
        r"reddit|subreddit",
        ("GET", "https://www.reddit.com/r/YOUR_SUBREDDIT/new.json?limit=25"),
        None,
        "the subreddit to read",
        credential=None,
        noun="post",
    ),
    _s(
        "youtube",
        "YouTube",
        r"youtube",
        (
            "GET",
            "https://www.googleapis.com/youtube/v3/search?part=snippet&channelId=YOUR_CHANNEL_ID&order=date",
        ),
        None,
        "the YouTube channel id and an API key",
        noun="video",
    ),
    _s(
        "supabase",
        "Supabase",
        r"supabase",
        ("GET", "https://YOUR_PROJECT.supabase.co/rest/v1/YOUR_TABLE?select=*"),
        ("POST", "https://YOUR_PROJECT.supabase.co/rest/v1/YOUR_TABLE", "fields"),
        "the Supabase project and table",
        noun="row",
    ),
    _s(
        "database",
        "a database",
        r"postgres(?:ql)?|mysql|database|sql server|mongo(?:db)?|data\s*store",
        ("GET", "https://api.example.com/YOUR_DATABASE_API/records"),
        ("POST", "https://api.example.com/YOUR_DATABASE_API/records", "fields"),
        "an HTTP API in front of the database (Flowlane has no database node)",
        noun="row",
    ),
    _s(
        "sentry",
        "Sentry",
        r"sentry",
        ("GET", "https://sentry.io/api/0/projects/YOUR_ORG/YOUR_PROJECT/issues/"),
        None,
        "the Sentry organisation and project",
        noun="issue",
        events=("error", "issue", "alert"),
    ),
    _s(
        "calendly",
        "Calendly",
        r"calendly",
        ("GET", "https://api.calendly.com/scheduled_events"),
        None,
        "the Calendly user URI",
        noun="event",
        events=("booking", "meeting", "event"),
    ),
    _s(
        "rss",
        "an RSS feed",
        r"rss(?: feeds?)?|atom feeds?|feeds?",
        ("GET", "https://example.com/feed.xml"),
        None,
        "the feed URL",
        credential=None,
        noun="item",
    ),
)
BY_KEY = {s.key: s for s in SERVICES}
# Services with a node of their own, or that are not destinations (AI is a step, not a place).
NATIVE = frozenset({"slack", "github", "email", "ai"})

_PATTERNS = [
    (s, re.compile(rf"(?<![\w#@/.-])(?:{s.pattern})(?![\w@-])", re.IGNORECASE)) for s in SERVICES
]


@dataclass(frozen=True)
class Mention:
    service: Service
    start: int
    end: int


def find_services(text: str) -> list[Mention]:
    """Every service mention, in text order; an overlap goes to the longer mention."""
    found: list[Mention] = []
    for service, pattern in _PATTERNS:
        found.extend(Mention(service, m.start(), m.end()) for m in pattern.finditer(text))
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


def display_names(keys: list[str]) -> list[str]:
    return [BY_KEY[k].name for k in dict.fromkeys(keys) if k in BY_KEY]
