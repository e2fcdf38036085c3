# Skyloft: one image for every role (api, worker, scheduler, migrate), chosen by SKYLOFT_ROLES or the command.
FROM node:24-bookworm-slim

# terraform runs the provisioning jobs. Pin it; verify the download against HashiCorp's published checksum.
ARG TERRAFORM_VERSION=1.11.4
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && arch="$(dpkg --print-architecture)" \
 && curl -fsSLo /tmp/tf.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${arch}.zip" \
 && curl -fsSLo /tmp/tf.sums "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_SHA256SUMS" \
 && (cd /tmp && grep "linux_${arch}.zip" tf.sums | sed "s#terraform_.*zip#tf.zip#" | sha256sum -c -) \
 && unzip /tmp/tf.zip -d /usr/local/bin && rm /tmp/tf.zip /tmp/tf.sums \
 && apt-get purge -y curl unzip && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: the image's own Node 24 runs everything (the `node` devDependency is for dev machines).
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json mikro-orm.config.ts ./
COPY src ./src
COPY workers ./workers
COPY stacks ./stacks

ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
# api and scheduler run as `node`; workers run as root (docker-compose.yml: `user: root`) only so that each terraform
# run gets its own unprivileged uid through setpriv (util-linux, in the base image). See "How terraform is isolated".
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["npm", "start"]
