"""Compliance supervision: policies that flag risky messages, and the review queue that works them.

Modules (data flows one way: policy file → policies → engine → alerts → queue → reports):

* ``policies``  parse and validate a policy file (YAML or TOML); load it as a new version
* ``normalize`` the Chinese matching people cannot dodge (width, traditional, inserted symbols, pinyin)
* ``engine``    ``supervise run`` (incremental) and ``supervise sample``: raise alerts
* ``queue``     the review queue: alerts grouped by conversation, assigned, closed, escalated
* ``reports``   hits over time, false-positive rate per term, open and overdue alerts
* ``commands``  the ``chataudit supervise`` click group (subcommands in ``commands_*`` modules)
"""
