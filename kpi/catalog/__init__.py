"""The catalog: fields, indicators, targets and the maturity index as data (kpi/definitions/),
validated at load, and the index's rules as query inputs.
"""
