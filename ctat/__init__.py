"""The reference CTAT model (Shen, Wang, Tang, Pattern Recognition 2022).

The network, losses and training arrive with their own issue; until then ``bench run --models
ctat`` stops before any work and says so (see :mod:`ctat.adapter`).
"""
