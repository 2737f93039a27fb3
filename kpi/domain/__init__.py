"""The domain's maths and rules, pure (frames in, frames out): progress against targets, the
maturity index's scoring, district maturity views, privacy, checks of a school's figures, data
quality, the scorecard, who lags, and the small state-machine engine the workflows run on.
"""
