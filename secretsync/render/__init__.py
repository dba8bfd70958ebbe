"""Source -> Documents -> Transforms: the render pipeline, kustomize documents, substitution."""
