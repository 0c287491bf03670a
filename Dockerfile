# pacgan in a container: `docker run --rm -v $PWD/data:/data pacgan train -c /data/pacgan.yaml -o /data/run`
FROM python:3.11-slim
WORKDIR /opt/pacgan
COPY pyproject.toml README.md LICENSE.md ./
COPY pacgan_cli ./pacgan_cli
COPY configs ./configs
RUN pip install --no-cache-dir ".[demo]"
WORKDIR /data
ENTRYPOINT ["pacgan"]
CMD ["--help"]
