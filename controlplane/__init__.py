"""The local Kubernetes control plane for tests, the demo and benchmarks.

A development package beside the scheduler, importable from the repository root
(like ``bench``) and left out of the wheel and the image; ``py_scheduler`` never
imports it (an import-linter contract). It holds both halves of the control
plane: the Go module that builds the binaries (``build.sh``, ``cmd/``,
``releases/<minor>.mod``, ``versions.env``) and the Python that runs them:

- :mod:`controlplane.releases`: the supported Kubernetes releases and where each
  one's binaries live;
- :mod:`controlplane.launcher`: start etcd, kube-apiserver,
  kube-controller-manager and kwok (with ``stages.yaml``) on 127.0.0.1;
- :mod:`controlplane.demo`: ``make demo``, the examples scheduled live.

``python -m controlplane up`` runs it until interrupted.
"""
