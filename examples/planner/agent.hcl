# A planner: `--plan` asks the model for a dependency graph of steps (structured output, so the
# plan always parses), then runs ready steps in parallel waves, each as a subagent.
name          = "planner"
default_model = "power/a3s-default"
workspace     = "."
max_steps     = 4

providers {
  name = "power"
  models {
    id             = "a3s-default"
    context_window = 2048
    max_tokens     = 160
    temperature    = 0
  }
}

tools {
  enabled = ["read", "write", "bash"]
}

planning {
  max_concurrency = 4   # steps of one wave running at once, as lane jobs
  max_attempts    = 2   # a failing step is retried once, then the rest is re-planned
}

# Workers the plan may name; more in agents/*.md.
agents {
  name        = "counter"
  description = "Counts lines, words or files with shell commands."
  tools       = ["bash"]
  max_steps   = 3
  prompt      = "You count things in the workspace with shell commands and report the number."
}

agent_dirs = ["agents"]
