# The agent behind the chat channels of `serve`: messages arrive from Telegram, Slack, Discord,
# Feishu, DingTalk, WeCom or WebChat, checked by safeclaw and queued per chat by lane; its
# commands run in a box (busybox image, no network) and its replies are sanitized by safeclaw.
name          = "channel-agent"
default_model = "power/a3s-default"
workspace     = "workspace"
max_steps     = 4

# No base_url: serve's own power answers in process, offline. For a bigger model, point a
# provider at any OpenAI-compatible server and change default_model, for example:
#   providers {
#     name     = "ollama"
#     base_url = "http://127.0.0.1:11435/v1"
#     models { id = "qwen2.5:7b" }
#   }
providers {
  name = "power"
  models {
    id             = "a3s-default"
    context_window = 2048
    max_tokens     = 96
    temperature    = 0
  }
}

# One compact tool schema leaves most of the default model's 2,048-token window to the chat.
tools {
  enabled = ["bash"]
}

# A chat user cannot answer approval prompts: calls that would ask are refused.
permissions {
  preset = "default"
  deny   = ["bash(sudo *)"]
}

box {
  driver  = "box"            # box's runtime: the image's root filesystem, its own hostname
  image   = "busybox:latest" # made from the host's busybox-static on first use
  network = false
}
