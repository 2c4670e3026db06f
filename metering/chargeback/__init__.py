"""Chargeback and showback: rate plans priced over the usage report, statements, cost to date,
the on-premises cost model, exports.

``rates`` finds the applicable rate; ``engine`` builds a statement from the usage report;
``statements`` drafts, issues and diffs revisions; ``costs`` gives cost to date and the month-end
forecast; ``onprem`` derives internal rates from hardware and power and compares with a public
cloud's price sheet; ``export`` writes statements as streamed CSV or JSON.
"""
