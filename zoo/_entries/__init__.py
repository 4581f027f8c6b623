"""Registry entries, one module per family (timm-style). Importing this package registers them all.

Every number, URL and digest in these modules was read from the source it cites (the authors'
README or paper, the timm / Hub model card); what could not be verified is ``None`` and the
``source`` / ``note`` text says so.
"""

from zoo._entries import hub_backbones, robust_resnet50  # noqa: F401  (registration side effects)
