"""Peer groups without peers: a firm alone in its group reads the enclosing group's share.

The peer terms of the hazards are shares among a firm's peers: ``adopters / (members - 1)`` for
a deciding firm, which is a member that has not adopted. The groups nest: park within cluster x
city within cluster within province. A group whose only member is the deciding firm (``members
<= 1``) has no peers to look at; the rule is that such a firm reads the share among its peers of
the smallest enclosing group that has some (its cluster-city for a park, its cluster for a
cluster-city, the province for a cluster).

Why (issue 11, scale invariance): at 1:1 scale every cluster-city holds dozens to thousands of
above-scale firms, but a run on fewer firms has proportionally smaller groups, and many
above-scale firms end up alone in theirs (5.5% at 50,000 firms, 14.7% at 20,000, none at
2,000,000). Reading 0 for them removed their park and cluster-city peer pressure altogether,
which made the scaled transformed count of small runs low (-1.1% at 20,000 firms against
400,000; ``scripts/scale_bias.py``). The enclosing group's share is the best estimate of what
their peers at full scale would show, so the rule changes nothing where groups have peers.

The rule is applied to (adopters, members) pairs, so the hazards keep computing
``adopters / max(members - 1, 1)`` and groups with peers give the same bytes as before.
"""

from __future__ import annotations

import numpy as np


def with_enclosing(adopters: np.ndarray, members: np.ndarray, parent: np.ndarray | None,
                   parent_adopters: np.ndarray, parent_members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adopters, members) of each group, replaced by its enclosing group's where the group has no
    member besides the deciding firm (``members <= 1``).

    Args:
        adopters, members: per group (float arrays, members counting the deciding firm).
        parent: enclosing group of each group (None: one enclosing group, index 0).
        parent_adopters, parent_members: per enclosing group.
    """
    alone = members <= 1.0
    if not alone.any():
        return adopters, members
    idx = np.zeros(int(alone.sum()), dtype=np.intp) if parent is None else parent[alone]
    adopters, members = adopters.copy(), members.copy()
    adopters[alone] = parent_adopters[idx]
    members[alone] = parent_members[idx]
    return adopters, members


def nested_counts(park_adopters: np.ndarray, park_members: np.ndarray, park_cc: np.ndarray,
                  cc_adopters: np.ndarray, cc_members: np.ndarray, n_cities: int,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Park and cluster-city (adopters, members) with :func:`with_enclosing` applied up the nest.

    Cluster-city ``j`` is cluster ``j // n_cities``; ``park_cc`` gives each park's cluster-city.
    Returns (park_adopters, park_members, cc_adopters, cc_members).
    """
    if not ((park_members <= 1.0).any() or (cc_members <= 1.0).any()):
        return park_adopters, park_members, cc_adopters, cc_members
    cl_adopters = cc_adopters.reshape(-1, n_cities).sum(axis=1)
    cl_members = cc_members.reshape(-1, n_cities).sum(axis=1)
    cl_adopters, cl_members = with_enclosing(cl_adopters, cl_members, None, np.array([cl_adopters.sum()]),
                                             np.array([cl_members.sum()]))
    cluster_of_cc = np.arange(cc_members.size) // n_cities
    cc_adopters, cc_members = with_enclosing(cc_adopters, cc_members, cluster_of_cc, cl_adopters, cl_members)
    park_adopters, park_members = with_enclosing(park_adopters, park_members, park_cc, cc_adopters, cc_members)
    return park_adopters, park_members, cc_adopters, cc_members
