# A research agent: web_search goes through search's meta search. Here it asks only the local
# index (offline); drop `engines` to use the configured web engines too.
name          = "researcher"
default_model = "power/a3s-default"
workspace     = "."
max_steps     = 4

providers {
  name = "power"
  models {
    id             = "a3s-default"
    context_window = 2048
    max_tokens     = 96
    temperature    = 0
  }
}

tools {
  enabled = ["web_search", "read", "write"]
}

search {
  enabled = true
  engines = ["local"]
}

safeclaw {
  injection = "warn"   # search results that try to instruct the agent are flagged as data
}
