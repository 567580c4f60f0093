# regkit's OCI image: the static binary on an empty base, running as a
# non-root user, with /data as its volume. Nothing is pulled or
# downloaded during the build (FROM scratch), so it builds offline:
#
#   make image            # = the two steps below
#   CGO_ENABLED=0 go build -trimpath -o bin/image/regkit ./cmd/regkit
#   mkdir -p bin/image/data && podman build --pull=never -f Dockerfile -t regkit bin/image
#
#   podman run -p 5000:5000 -v regkit-data:/data regkit
#
# The build context is bin/image (the binary and an empty data/), not the
# repository. The image has no CA certificates: object storage over
# HTTPS (s3://, gs://, azblob://) needs them mounted at
# /etc/ssl/certs/ca-certificates.crt.
FROM scratch
COPY regkit /regkit
COPY --chown=65532:65532 data /data
USER 65532:65532
VOLUME /data
EXPOSE 5000
ENV REGKIT_ADDR=0.0.0.0:5000 REGKIT_DATA=/data
ENTRYPOINT ["/regkit"]
CMD ["serve"]
