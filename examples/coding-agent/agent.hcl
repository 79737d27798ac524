# A coding agent on the shipped default model, offline. Swap the provider for a bigger model
# (Ollama, OpenAI, Anthropic) and raise context_window to give it every tool.
name          = "coder"
default_model = "power/a3s-default"
workspace     = "."
max_steps     = 6

providers {
  name = "power"   # no base_url: power runs in this process (or set A3S_POWER_URL)
  models {
    id             = "a3s-default"
    context_window = 2048
    max_tokens     = 96
    temperature    = 0
  }
}

# The default model's 512-token window holds three compact tool schemas.
tools {
  enabled = ["read", "write", "bash"]
}

permissions {
  preset = "default"
  deny   = ["bash(curl *)", "read(**/.env)"]
  ask    = ["bash(git push*)"]
}

# Every tool call is also logged by a shell hook (the event arrives as JSON on stdin).
hooks {
  event   = "PostToolUse"
  command = "cat >> .agent-tool-log.jsonl; echo >> .agent-tool-log.jsonl"
}

box {
  driver = "auto"   # bubblewrap when it works here: read-only host, no network
}
