"""Pure figure builders, one module per page: arrays in, plotly figures (or DOT text) out.

Nothing here calls streamlit; `common` holds what every chart shares.
"""
