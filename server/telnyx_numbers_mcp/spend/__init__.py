"""Spend controls: what purchases cost against the limits an operator set (--spend-limit, --spend-limit-per-user),
and mandates, a human's approval given ahead of time for a bounded set of purchases.

money.py       amounts (whole micro-dollars, exact in SQL), USD parsing, UTC days and months
limits.py      the --spend-limit flags as a typed value (config.py builds it)
amount.py      what one purchase counts (upfront plus the first month; estimates at their upper bound) and where
               its numbers are (countries, number types)
mandates.py    a mandate, its bounds, what it covers, the words a human approves and the form that lowers them
book.py        the ledger and the mandates in the store: holding, spending, releasing and using a mandate are
               each one transaction under the mode's lock, so replicas on one store share limits exactly
meter.py       the runtime's face: checks before anyone is asked, a mandate's cover, the hold around a send
asking.py      the request_mandate tool, through the approval channels of a purchase (approvals/gate.py)
report.py      the spending tool's answer
tools.py       the two server tools' definitions (kept light: listing tools loads nothing else)
terminal.py    `approvals mandate grant|list|revoke`, and lowering a requested mandate at the terminal
subject.py     who the money is counted for (the caller's subject in hosted mode; None locally)
"""
