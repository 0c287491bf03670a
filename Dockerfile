# pacgan in a container: `docker run --rm -v $PWD/data:/data pacgan train -c /data/pacgan.yaml -o /data/run`
FROM python:3.11-slim
WORKDIR /opt/pacgan
COPY pyproject.toml README.md LICENSE.md ./
COPY pacgan_cli ./pacgan_cli
COPY configs ./configs
# CPU-only image: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu (no CUDA libraries inside).
ARG TORCH_INDEX=
RUN if [ -n "$TORCH_INDEX" ]; then pip install --no-cache-dir torch torchvision --index-url "$TORCH_INDEX"; fi
RUN pip install --no-cache-dir ".[demo]"
WORKDIR /data
ENTRYPOINT ["pacgan"]
CMD ["--help"]
