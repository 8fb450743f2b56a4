"""Configuration: a YAML file, the environment and CLI flags, merged and validated up front.

One job per module; each name is imported from the module that defines it:

    errors        ConfigError and the masking of secrets in what is shown
    cron          a plan's run.schedule, read by APScheduler
    durations     250ms / 10m / 3d to and from seconds
    values        field types: each parses one value or says what is allowed
    addresses     host:port, peer lists, resolve addresses, gs:// URIs
    load_models   the load-model table: name, required keys, rate curve
    variables     the ${var} grammar, shared with the engine
    data_feed     a plan's CSV data: read within its size bound, parsed into a table
    models        the validated plan and node settings (pydantic)
    schema        the key tree of a config file, read from the models
    environment   which variable sets which key, and CLI flag names
    yaml_io       reading and writing YAML
    builder       merging file, environment and flags, with where each value came from
    scenario_rules  rules across a whole scenario (unique names, ${var} use)
    loading       load_settings / load_plan_text: the entry points
    rendering     --print-config
"""
