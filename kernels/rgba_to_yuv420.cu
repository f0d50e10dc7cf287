// RGBA (8-bit, packed) to planar YUV 4:2:0 (BT.709, limited range), one thread per 2x2 block.
// The video encoder's input format: frames composed on the GPU convert there before download.
// Compiled at run time by NVRTC (src/engine/cuda_kernels.rs); width and height must be even.
extern "C" __global__ void rgba_to_yuv420(
    const unsigned char* __restrict__ rgba,
    unsigned char* __restrict__ y_plane,
    unsigned char* __restrict__ u_plane,
    unsigned char* __restrict__ v_plane,
    int width,
    int height)
{
    int bx = blockIdx.x * blockDim.x + threadIdx.x;
    int by = blockIdx.y * blockDim.y + threadIdx.y;
    if (bx >= width / 2 || by >= height / 2) {
        return;
    }
    float u_sum = 0.0f;
    float v_sum = 0.0f;
    for (int dy = 0; dy < 2; ++dy) {
        for (int dx = 0; dx < 2; ++dx) {
            int x = bx * 2 + dx;
            int y = by * 2 + dy;
            const unsigned char* p = rgba + 4 * (y * width + x);
            float r = p[0], g = p[1], b = p[2];
            float luma = 16.0f + 0.18259f * r + 0.61423f * g + 0.06201f * b;
            y_plane[y * width + x] = (unsigned char)fminf(fmaxf(luma + 0.5f, 0.0f), 255.0f);
            u_sum += -0.10064f * r - 0.33857f * g + 0.43922f * b;
            v_sum += 0.43922f * r - 0.39894f * g - 0.04027f * b;
        }
    }
    int c = by * (width / 2) + bx;
    u_plane[c] = (unsigned char)fminf(fmaxf(128.0f + u_sum * 0.25f + 0.5f, 0.0f), 255.0f);
    v_plane[c] = (unsigned char)fminf(fmaxf(128.0f + v_sum * 0.25f + 0.5f, 0.0f), 255.0f);
}
