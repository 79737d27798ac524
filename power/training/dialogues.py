"""Generates synthetic chat and tool-call dialogues rendered in the model's own chat template.

The renderer below produces exactly what chat_template.jinja produces for the same messages
(verified by verify_template.ts), so what the model sees in training is what the engine sends.
Answers are computed (arithmetic, dates) or taken from real documentation (man page NAME lines,
corpus paragraphs), never invented facts. Tool names and parameters are partly drawn at random
so the model learns to copy them from the <tools> list rather than memorise a fixed set.
"""

import argparse
import glob
import gzip
import json
import random
import re
import sys

DEFAULT_SYSTEM = "You are a helpful assistant."
TOOLS_PREAMBLE = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_POSTAMBLE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)


def to_json(value) -> str:
    """Matches the `tojson` filter of @huggingface/jinja (Python json.dumps separators)."""
    return json.dumps(value, ensure_ascii=False)


def render(messages: list, tools: list | None = None) -> str:
    """Renders messages the way chat_template.jinja does (without a generation prompt)."""
    out = []
    first_is_system = messages and messages[0]["role"] == "system"
    if tools:
        out.append("<|im_start|>system\n")
        out.append(messages[0]["content"] if first_is_system else DEFAULT_SYSTEM)
        out.append(TOOLS_PREAMBLE)
        for tool in tools:
            out.append("\n" + to_json(tool))
        out.append(TOOLS_POSTAMBLE)
    else:
        system = messages[0]["content"] if first_is_system else DEFAULT_SYSTEM
        out.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for index, message in enumerate(messages):
        role = message["role"]
        if role == "user" or (role == "system" and index > 0) or (
            role == "assistant" and not message.get("tool_calls")
        ):
            out.append(f"<|im_start|>{role}\n{message['content']}<|im_end|>\n")
        elif role == "assistant":
            out.append("<|im_start|>assistant")
            if message.get("content"):
                out.append("\n" + message["content"])
            for call in message["tool_calls"]:
                out.append(
                    '\n<tool_call>\n{"name": "' + call["name"] + '", "arguments": '
                    + to_json(call["arguments"]) + "}\n</tool_call>"
                )
            out.append("<|im_end|>\n")
        elif role == "tool":
            if index == 0 or messages[index - 1]["role"] != "tool":
                out.append("<|im_start|>user")
            out.append("\n<tool_response>\n" + message["content"] + "\n</tool_response>")
            if index == len(messages) - 1 or messages[index + 1]["role"] != "tool":
                out.append("<|im_end|>\n")
    return "".join(out)


SYSTEMS = [
    DEFAULT_SYSTEM,
    DEFAULT_SYSTEM,
    "You are a helpful assistant. Answer briefly.",
    "You are a concise assistant that answers questions about software.",
    "You are a friendly assistant. Keep answers short and clear.",
    "You are an assistant running on the user's own computer.",
    "You are a careful assistant. Use the tools when they help.",
]

CITIES = [
    "Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Lisbon", "Oslo", "Cairo", "Lima",
    "Sydney", "Toronto", "Chicago", "Boston", "Seattle", "Denver", "Dublin", "Vienna", "Prague",
    "Warsaw", "Athens", "Nairobi", "Mumbai", "Delhi", "Seoul", "Beijing", "Shanghai", "Bangkok",
    "Jakarta", "Manila", "Mexico City", "Bogota", "Santiago", "Buenos Aires", "Helsinki",
    "Stockholm", "Copenhagen", "Amsterdam", "Brussels", "Zurich", "Munich", "Hamburg", "Milan",
    "Naples", "Istanbul", "Dubai", "Singapore", "Hong Kong", "Auckland", "Vancouver", "Montreal",
]
CONDITIONS = ["sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "clear", "stormy"]
TIMEZONES = [
    "UTC", "Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin",
    "America/Chicago", "Australia/Sydney", "Asia/Kolkata", "America/Los_Angeles",
]
DIRS = ["/home/user", "/tmp", "/etc", "/var/log", "/usr/share/doc", "src", "docs", ".", "tests",
        "/srv/data", "notes", "build", "assets", "/opt/app", "config"]
FILES = ["README.md", "notes.txt", "main.py", "config.json", "todo.md", "report.csv", "app.ts",
         "index.html", "setup.cfg", "Makefile", "data.json", "log.txt", "deno.json", "mod.ts"]
TOPICS = [
    "onnx runtime", "rust async", "deno permissions", "sqlite indexes", "linux namespaces",
    "python decorators", "http caching", "tcp congestion control", "json schema", "git rebase",
    "unicode normalization", "postgres vacuum", "kvm virtual machines", "byte pair encoding",
    "rope embeddings", "gzip compression", "ssh keys", "dns records", "cron syntax", "regex lookahead",
]
NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Oscar", "Peggy", "Trent", "Victor", "Walter"]
VERBS = ["get", "fetch", "find", "list", "create", "delete", "update", "search", "lookup",
         "send", "read", "write", "check", "count", "convert", "translate", "schedule", "open"]
NOUNS = ["user", "order", "invoice", "ticket", "note", "event", "task", "page", "record",
         "stock_price", "package", "issue", "commit", "contact", "message", "recipe", "book",
         "flight", "song", "city_info", "exchange_rate", "word_definition", "reminder"]
PARAMS = ["id", "name", "query", "city", "title", "date", "amount", "email", "text", "limit",
          "language", "symbol", "path", "url", "priority", "tag", "owner", "currency", "word"]
VALUES = {
    "id": lambda r: str(r.randint(1, 99999)),
    "name": lambda r: r.choice(NAMES),
    "query": lambda r: r.choice(TOPICS),
    "city": lambda r: r.choice(CITIES),
    "title": lambda r: r.choice(["weekly sync", "fix login bug", "buy milk", "release notes",
                                 "plan trip", "review draft", "call the bank"]),
    "date": lambda r: f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "amount": lambda r: r.randint(1, 5000),
    "email": lambda r: f"{r.choice(NAMES).lower()}@example.com",
    "text": lambda r: r.choice(["hello there", "see you tomorrow", "the build is green",
                                "meeting moved to noon", "thanks for the help"]),
    "limit": lambda r: r.choice([1, 3, 5, 10, 20]),
    "language": lambda r: r.choice(["French", "German", "Spanish", "Italian", "Japanese"]),
    "symbol": lambda r: r.choice(["AAPL", "MSFT", "GOOG", "TSLA", "AMZN", "NVDA"]),
    "path": lambda r: r.choice(DIRS) + "/" + r.choice(FILES),
    "url": lambda r: r.choice(["https://example.com", "https://deno.land", "https://debian.org",
                               "https://example.org/docs"]),
    "priority": lambda r: r.choice(["low", "medium", "high"]),
    "tag": lambda r: r.choice(["work", "home", "urgent", "later", "ideas"]),
    "owner": lambda r: r.choice(NAMES),
    "currency": lambda r: r.choice(["USD", "EUR", "GBP", "JPY", "CHF"]),
    "word": lambda r: r.choice(["serendipity", "ephemeral", "lucid", "candid", "resilient"]),
}
INTEGER_PARAMS = {"amount", "limit"}


def _tool(name: str, description: str, props: dict, required: list) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


def _string(desc: str) -> dict:
    return {"type": "string", "description": desc}


class Fixed:
    """Hand-written tools with natural requests, calls and answers."""

    @staticmethod
    def weather(r: random.Random):
        city = r.choice(CITIES)
        unit = r.choice(["celsius", "fahrenheit"])
        tool = _tool("get_weather", "Get the current weather for a city.",
                     {"city": _string("The city name"),
                      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, ["city"])
        ask = r.choice([
            f"What's the weather in {city}?", f"How is the weather in {city} today?",
            f"Is it raining in {city}?", f"weather {city}", f"Tell me the weather in {city}.",
            f"What is the temperature in {city} in {unit}?",
        ])
        args = {"city": city}
        if unit in ask:
            args["unit"] = unit
        temp = r.randint(-5, 35) if unit == "celsius" or "unit" not in args else r.randint(25, 95)
        cond = r.choice(CONDITIONS)
        sym = "F" if args.get("unit") == "fahrenheit" else "C"
        result = {"city": city, "temperature": temp, "unit": args.get("unit", "celsius"),
                  "condition": cond}
        answer = r.choice([
            f"It is {cond} in {city} with a temperature of {temp} degrees {sym}.",
            f"The weather in {city} is {cond}, {temp}°{sym}.",
            f"Right now {city} is {cond} and {temp} degrees.",
        ])
        return tool, ask, "get_weather", args, result, answer

    @staticmethod
    def calculator(r: random.Random):
        a, b = r.randint(2, 999), r.randint(2, 999)
        op, sym, value = r.choice([("add", "+", a + b), ("subtract", "-", a - b),
                                   ("multiply", "*", a * b)])
        tool = _tool("calculator", "Evaluate an arithmetic expression.",
                     {"expression": _string("The expression, for example 2 * (3 + 4)")},
                     ["expression"])
        expr = f"{a} {sym} {b}"
        ask = r.choice([f"What is {expr}?", f"Calculate {expr}.", f"Please compute {expr}",
                        f"Can you {op} {a} and {b}?" if op != "subtract" else f"What is {expr}?"])
        return tool, ask, "calculator", {"expression": expr}, {"result": value}, \
            r.choice([f"{expr} = {value}.", f"The answer is {value}.", f"It comes to {value}."])

    @staticmethod
    def list_files(r: random.Random):
        d = r.choice(DIRS)
        tool = _tool("list_files", "List the files in a directory.",
                     {"path": _string("Directory path")}, ["path"])
        ask = r.choice([f"What files are in {d}?", f"List the files in {d}.", f"Show me {d}",
                        f"ls {d}", f"Which files does the {d} directory contain?"])
        files = r.sample(FILES, r.randint(1, 5))
        answer = f"The directory {d} contains " + (
            ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]) + "."
        return tool, ask, "list_files", {"path": d}, {"files": files}, answer

    @staticmethod
    def read_file(r: random.Random):
        path = r.choice(DIRS) + "/" + r.choice(FILES)
        tool = _tool("read_file", "Read a text file and return its contents.",
                     {"path": _string("Path of the file")}, ["path"])
        ask = r.choice([f"Read {path} for me.", f"What does {path} say?", f"Open {path}.",
                        f"Show the contents of {path}."])
        text = r.choice(["hello world", "TODO: write tests", "version = 1.2.0",
                         "Remember to back up the database.", "name,score\nada,10"])
        return tool, ask, "read_file", {"path": path}, {"content": text}, \
            f"The file {path} contains: {text}"

    @staticmethod
    def search(r: random.Random):
        q = r.choice(TOPICS)
        tool = _tool("web_search", "Search the web and return the top results.",
                     {"query": _string("Search terms"),
                      "limit": {"type": "integer", "description": "Number of results"}},
                     ["query"])
        ask = r.choice([f"Search the web for {q}.", f"Find information about {q}.",
                        f"Look up {q}.", f"Can you search for {q}?"])
        results = [{"title": f"{q.title()} explained", "url": "https://example.com/" +
                    q.replace(" ", "-")}]
        return tool, ask, "web_search", {"query": q}, {"results": results}, \
            f"I found one result: \"{q.title()} explained\" at https://example.com/" + \
            q.replace(" ", "-") + "."

    @staticmethod
    def time(r: random.Random):
        tz = r.choice(TIMEZONES)
        tool = _tool("get_current_time", "Get the current time in a timezone.",
                     {"timezone": _string("IANA timezone name, e.g. Europe/Paris")},
                     ["timezone"])
        ask = r.choice([f"What time is it in {tz}?", f"Current time in {tz}?",
                        f"Tell me the time in the {tz} timezone."])
        hh, mm = r.randint(0, 23), r.randint(0, 59)
        return tool, ask, "get_current_time", {"timezone": tz}, \
            {"timezone": tz, "time": f"{hh:02d}:{mm:02d}"}, f"It is {hh:02d}:{mm:02d} in {tz}."

    @staticmethod
    def shell(r: random.Random):
        cmd, desc = r.choice([("ls -la", "list all files"), ("pwd", "show the current directory"),
                              ("df -h", "check the free disk space"), ("uname -a",
                              "show the kernel version"), ("date", "print the date"),
                              ("whoami", "show the current user"), ("uptime",
                              "show how long the machine has been up")])
        tool = _tool("run_command", "Run a shell command and return its output.",
                     {"command": _string("The shell command to run")}, ["command"])
        ask = r.choice([f"Run `{cmd}`.", f"Please {desc}.", f"Execute {cmd} and tell me the output."])
        out = {"ls -la": "total 8\nREADME.md\nmain.py", "pwd": "/home/user",
               "df -h": "/dev/sda1  50G  20G  30G  40% /", "uname -a": "Linux host 6.1.0",
               "date": "Tue Mar  4 10:00:00 UTC 2025", "whoami": "user",
               "uptime": "up 3 days"}[cmd]
        return tool, ask, "run_command", {"command": cmd}, {"exit_code": 0, "stdout": out}, \
            f"The command `{cmd}` printed:\n{out}"

    @staticmethod
    def email(r: random.Random):
        who = r.choice(NAMES)
        subject = r.choice(["Lunch", "Meeting notes", "Invoice", "Weekend plans", "Status"])
        tool = _tool("send_email", "Send an email.",
                     {"to": _string("Recipient address"), "subject": _string("Subject line"),
                      "body": _string("Message text")}, ["to", "subject", "body"])
        body = r.choice(["See you at noon.", "The report is attached.", "Thanks for your help!"])
        to = f"{who.lower()}@example.com"
        ask = f"Send an email to {to} with the subject \"{subject}\" saying \"{body}\""
        return tool, ask, "send_email", {"to": to, "subject": subject, "body": body}, \
            {"status": "sent"}, f"Done. I sent the email to {to}."

    @staticmethod
    def convert(r: random.Random):
        amount = r.randint(1, 1000)
        src, dst = r.sample(["USD", "EUR", "GBP", "JPY", "CHF"], 2)
        rate = round(r.uniform(0.5, 1.6), 2)
        tool = _tool("convert_currency", "Convert an amount between currencies.",
                     {"amount": {"type": "number"}, "from": _string("Source currency code"),
                      "to": _string("Target currency code")}, ["amount", "from", "to"])
        ask = r.choice([f"Convert {amount} {src} to {dst}.", f"How much is {amount} {src} in {dst}?"])
        value = round(amount * rate, 2)
        return tool, ask, "convert_currency", {"amount": amount, "from": src, "to": dst}, \
            {"amount": value, "currency": dst}, f"{amount} {src} is about {value} {dst}."


FIXED_TOOLS = [getattr(Fixed, n) for n in ("weather", "calculator", "list_files", "read_file",
                                           "search", "time", "shell", "email", "convert")]


def _random_tool(r: random.Random):
    verb, noun = r.choice(VERBS), r.choice(NOUNS)
    name = f"{verb}_{noun}"
    params = r.sample(PARAMS, r.randint(1, 3))
    props = {}
    for p in params:
        props[p] = {"type": "integer" if p in INTEGER_PARAMS else "string",
                    "description": f"The {p.replace('_', ' ')}"}
    tool = _tool(name, f"{verb.capitalize()} a {noun.replace('_', ' ')}.", props, params)
    args = {p: VALUES[p](r) for p in params}
    described = " and ".join(f"{p} {args[p]}" for p in params)
    ask = r.choice([
        f"Please {verb} the {noun.replace('_', ' ')} with {described}.",
        f"{verb.capitalize()} {noun.replace('_', ' ')} for {described}.",
        f"Use {name} with {described}.",
        f"Call {name} where {described}.",
        f"I need you to {verb} a {noun.replace('_', ' ')}: {described}.",
    ])
    result = {"ok": True, noun: {"id": r.randint(1, 999), **args}}
    answer = r.choice([f"Done: the {noun.replace('_', ' ')} request with {described} succeeded.",
                       f"The {name} call returned a {noun.replace('_', ' ')} for {described}.",
                       f"Here is the result for {described}."])
    return tool, ask, name, args, result, answer


def _distractor_tools(r: random.Random, keep: dict) -> list:
    tools = [keep]
    for _ in range(r.choice([0, 0, 1, 1, 2])):
        if r.random() < 0.5:
            tools.append(r.choice(FIXED_TOOLS)(r)[0])
        else:
            tools.append(_random_tool(r)[0])
    unique = {t["function"]["name"]: t for t in tools}
    ordered = list(unique.values())
    r.shuffle(ordered)
    return ordered


def tool_dialogue(r: random.Random) -> str:
    maker = r.choice(FIXED_TOOLS) if r.random() < 0.6 else _random_tool
    tool, ask, name, args, result, answer = maker(r)
    tools = _distractor_tools(r, tool)
    messages = []
    if r.random() < 0.5:
        messages.append({"role": "system", "content": r.choice(SYSTEMS)})
    messages.append({"role": "user", "content": ask})
    call = {"role": "assistant", "content": "", "tool_calls": [{"name": name, "arguments": args}]}
    messages.append(call)
    # Most documents stop after the call, as an agent would; some carry on with the result.
    if r.random() < 0.6:
        messages.append({"role": "tool", "content": to_json(result)})
        messages.append({"role": "assistant", "content": answer})
    return render(messages, tools)


def no_tool_needed(r: random.Random, man: list) -> str:
    tool = r.choice(FIXED_TOOLS)(r)[0]
    tools = _distractor_tools(r, tool)
    user, reply = r.choice([greeting, arithmetic, command_question])(r, man)
    return render([{"role": "user", "content": user}, {"role": "assistant", "content": reply}],
                  tools)


GREETINGS = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi", "Hi! What can I do for you?"),
    ("Hey there", "Hey! What would you like to know?"),
    ("Good morning.", "Good morning! How can I help?"),
    ("How are you?", "I am doing well, thank you. How can I help you?"),
    ("Who are you?", "I am a small language model that runs on your own computer. "
                     "I can answer simple questions and call tools."),
    ("What can you do?", "I can answer short questions, explain commands, do simple arithmetic "
                         "and call the tools you give me."),
    ("Thanks!", "You are welcome!"),
    ("Thank you for your help.", "You are welcome. Let me know if you need anything else."),
    ("Say hello.", "Hello!"),
    ("Tell me a short fact.", "Water boils at 100 degrees Celsius at sea level."),
    ("What is the capital of France?", "The capital of France is Paris."),
    ("What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("What is the capital of Germany?", "The capital of Germany is Berlin."),
    ("What is the capital of Italy?", "The capital of Italy is Rome."),
    ("What is the capital of Spain?", "The capital of Spain is Madrid."),
    ("What color is the sky?", "On a clear day the sky is blue."),
    ("How many days are in a week?", "There are seven days in a week."),
    ("How many hours are in a day?", "There are 24 hours in a day."),
    ("What is Linux?", "Linux is a free operating system kernel. Together with GNU tools it "
                       "forms a complete operating system."),
    ("What is Python?", "Python is a programming language that is easy to read and write."),
    ("What is JSON?", "JSON is a text format for structured data made of objects, arrays, "
                      "strings, numbers, booleans and null."),
    ("Goodbye", "Goodbye! Have a nice day."),
]


def greeting(r: random.Random, man: list):
    return r.choice(GREETINGS)


def arithmetic(r: random.Random, man: list):
    a, b = r.randint(0, 200), r.randint(0, 200)
    op, word, value = r.choice([("+", "plus", a + b), ("-", "minus", a - b), ("*", "times", a * b)])
    user = r.choice([f"What is {a} {op} {b}?", f"What is {a} {word} {b}?", f"Compute {a} {op} {b}."])
    return user, r.choice([f"{a} {op} {b} = {value}.", f"The answer is {value}.", f"{value}."])


def command_question(r: random.Random, man: list):
    command, summary = r.choice(man)
    user = r.choice([f"What does the {command} command do?", f"What is {command}?",
                     f"Explain {command} in one sentence.", f"What is `{command}` used for?"])
    reply = r.choice([f"The {command} command is used to {summary}.",
                      f"{command} is a program to {summary}.",
                      f"`{command}` lets you {summary}."])
    return user, reply


def json_reply(r: random.Random, man: list):
    name, age, city = r.choice(NAMES), r.randint(18, 90), r.choice(CITIES)
    user = r.choice([
        f"Return a JSON object with name {name}, age {age} and city {city}.",
        f"Give me JSON for a person called {name} who is {age} and lives in {city}.",
    ])
    return user, to_json({"name": name, "age": age, "city": city})


def summarize(r: random.Random, paragraphs: list):
    para = r.choice(paragraphs)
    first = re.split(r"(?<=[.!?])\s", para, maxsplit=1)[0]
    user = r.choice(["Summarize this in one sentence:\n", "What is this text about?\n",
                     "Give me the main point:\n", "TL;DR:\n"]) + para
    return user, first


def chat_dialogue(r: random.Random, man: list, paragraphs: list) -> str:
    messages = []
    if r.random() < 0.4:
        messages.append({"role": "system", "content": r.choice(SYSTEMS)})
    for _ in range(r.choice([1, 1, 1, 2, 2, 3])):
        kind = r.choices([greeting, arithmetic, command_question, json_reply, "summary"],
                         weights=[3, 2, 4, 1, 2])[0]
        if kind == "summary":
            user, reply = summarize(r, paragraphs)
        else:
            user, reply = kind(r, man)
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return render(messages)


def man_summaries() -> list:
    """(command, one-line summary) pairs from the NAME sections of section 1 and 8 man pages."""
    pairs = []
    for path in sorted(glob.glob("/usr/share/man/man[18]/*.gz")):
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                text = handle.read(4000)
        except OSError:
            continue
        match = re.search(r"^\.S[Hh] \"?NAME\"?\s*\n(.+?)\n", text, re.M)
        if not match:
            continue
        line = re.sub(r"\\f[BIRP]|\\&", "", match.group(1)).replace("\\-", "-")
        parts = re.split(r"\s+-+\s+", line, maxsplit=1)
        if len(parts) != 2:
            continue
        command = parts[0].split(",")[0].strip()
        summary = parts[1].strip().rstrip(".")
        if re.fullmatch(r"[a-z][a-z0-9_.+-]{1,24}", command) and 3 <= len(summary.split()) <= 14:
            pairs.append((command, summary[0].lower() + summary[1:]))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", required=True, help="prose corpus used for summaries")
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=60000)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    r = random.Random(args.seed)
    man = man_summaries()
    with open(args.corpus, encoding="utf-8") as handle:
        paragraphs = [p for p in handle.read().split("\n\n") if 80 < len(p) < 400]
    paragraphs = r.sample(paragraphs, min(20000, len(paragraphs)))
    with open(args.out, "w", encoding="utf-8") as out:
        for _ in range(args.count):
            roll = r.random()
            if roll < 0.5:
                text = tool_dialogue(r)
            elif roll < 0.6:
                text = no_tool_needed(r, man)
            else:
                text = chat_dialogue(r, man, paragraphs)
            out.write(text + "<|endoftext|>")
    print(f"dialogues: {args.count} written, {len(man)} man summaries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
