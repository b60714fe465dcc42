"""The Azure DevOps adapter: the REST client (auth, status, rate-limit headers, retries, in
one place) and the warm clients per organisation and PAT secret."""
