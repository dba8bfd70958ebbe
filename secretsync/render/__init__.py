"""Source -> Documents -> Transforms: the render pipeline, kustomize documents, substitution.

``pipeline`` (the transforms, per-object outcomes), ``documents`` (files and kustomize builds
to documents), ``substitute`` (postBuild variables) and ``request`` (a render asked for on
the command line: SOURCE and flags to source, dependencies and options). No kube imports.
"""
