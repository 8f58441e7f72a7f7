# corsway on the official Node image. Build the package first, then the image:
#   npm pack                      # writes corsway-<version>.tgz
#   docker build -t corsway .
#   docker run --rm -p 8080:8080 -e CORSWAY_ALLOW_ORIGINS=https://app.example.com corsway
FROM node:20-slim
COPY corsway-*.tgz /tmp/
RUN npm install --global --omit=dev /tmp/corsway-*.tgz && rm /tmp/corsway-*.tgz && npm cache clean --force
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
# glibc keeps up to 64 MiB of freed heap instead of returning it: large downloads stop
# re-faulting their buffers (docs/operations.md, "Large downloads on Linux").
ENV GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864
USER node
EXPOSE 8080
HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) lets in-flight requests finish for up to 10 s.
CMD ["corsway"]
