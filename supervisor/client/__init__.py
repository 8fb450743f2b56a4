"""A person's side of a cluster: submit a plan, follow its run, ask what the cluster does."""
