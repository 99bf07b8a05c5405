// libsophon-emulator-check SCENARIO BMODEL: drives the emulator through one use of the API (right
// or wrong) and prints one JSON object with what the API returned; test/native/ checks it.
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bmruntime_interface.h"
#include "device.h"

namespace {

struct Session {
  bm_handle_t handle = nullptr;
  void *rt = nullptr;
  const bm_net_info_t *net = nullptr;
};

bool open_session(Session &s, const char *path) {
  if (bm_dev_request(&s.handle, 0) != BM_SUCCESS) return false;
  s.rt = bmrt_create(s.handle);
  if (!bmrt_load_bmodel(s.rt, path)) return false;
  const char **names = nullptr;
  bmrt_get_network_names(s.rt, &names);
  s.net = bmrt_get_network_info(s.rt, names[0]);
  std::free(names);
  return s.net != nullptr;
}

// Inputs of stage 0 filled with a byte pattern, in 1N.
std::vector<bm_tensor_t> make_inputs(Session &s) {
  std::vector<bm_tensor_t> in(s.net->input_num);
  for (int i = 0; i < s.net->input_num; ++i) {
    bmrt_tensor(&in[i], s.rt, s.net->input_dtypes[i], s.net->stages[0].input_shapes[i]);
    std::vector<uint8_t> bytes(bmrt_tensor_bytesize(&in[i]));
    for (size_t j = 0; j < bytes.size(); ++j) bytes[j] = static_cast<uint8_t>(j * 7 + i);
    bm_memcpy_s2d(s.handle, in[i].device_mem, bytes.data());
  }
  return in;
}

void free_all(Session &s, std::vector<bm_tensor_t> &ts) {
  for (auto &t : ts) bm_free_device(s.handle, t.device_mem);
}

unsigned long long live_blocks(Session &s) {
  bm_emu_counters_t c{};
  bm_emu_get_counters(s.handle, &c);
  return c.live_blocks;
}

void close_session(Session &s) {
  bmrt_destroy(s.rt);
  bm_dev_free(s.handle);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: libsophon-emulator-check SCENARIO [BMODEL]\n");
    return 2;
  }
  const std::string scenario = argv[1];
  if (scenario == "layout") {
    std::printf(
        "{\"bm_shape_t\":%zu,\"bm_device_mem_t\":%zu,\"bm_tensor_t\":%zu,\"bm_dev_stat_t\":%zu,"
        "\"bm_stage_info_t\":%zu,\"tensor.device_mem\":%zu,\"tensor.st_mode\":%zu,"
        "\"net.input_num\":%zu,\"net.input_names\":%zu,\"net.output_num\":%zu,"
        "\"net.stage_num\":%zu,\"net.stages\":%zu,\"net.max_input_bytes\":%zu,"
        "\"net.max_output_bytes\":%zu,\"net.input_zero_point\":%zu,"
        "\"net.output_zero_point\":%zu}\n",
        sizeof(bm_shape_t), sizeof(bm_device_mem_t), sizeof(bm_tensor_t), sizeof(bm_dev_stat_t),
        sizeof(bm_stage_info_t), offsetof(bm_tensor_t, device_mem), offsetof(bm_tensor_t, st_mode),
        offsetof(bm_net_info_t, input_num), offsetof(bm_net_info_t, input_names),
        offsetof(bm_net_info_t, output_num), offsetof(bm_net_info_t, stage_num),
        offsetof(bm_net_info_t, stages), offsetof(bm_net_info_t, max_input_bytes),
        offsetof(bm_net_info_t, max_output_bytes), offsetof(bm_net_info_t, input_zero_point),
        offsetof(bm_net_info_t, output_zero_point));
    return 0;
  }
  if (argc < 3) return 2;
  Session s;
  if (!open_session(s, argv[2])) {
    std::printf("{\"loaded\":false}\n");
    if (s.rt != nullptr) bmrt_destroy(s.rt);
    if (s.handle != nullptr) bm_dev_free(s.handle);
    return 0;
  }
  const int n_out = s.net->output_num;
  std::vector<bm_tensor_t> in = make_inputs(s);
  std::vector<bm_tensor_t> out(n_out);
  if (scenario == "unknown-net" || scenario == "wrong-shape" || scenario == "wrong-count") {
    const char *name = scenario == "unknown-net" ? "no-such-net" : s.net->name;
    if (scenario == "wrong-shape") in[0].shape.dims[in[0].shape.num_dims - 1] += 1;
    const int n_in = scenario == "wrong-count" ? s.net->input_num + 1 : s.net->input_num;
    std::vector<bm_tensor_t> ins(in);
    ins.resize(static_cast<size_t>(n_in), in[0]);
    const bool ok = bmrt_launch_tensor(s.rt, name, ins.data(), n_in, out.data(), n_out);
    if (scenario == "wrong-shape") in[0].shape.dims[in[0].shape.num_dims - 1] -= 1;
    const unsigned long long after = live_blocks(s);
    free_all(s, in);
    std::printf("{\"launched\":%s,\"liveBlocksAfter\":%llu}\n", ok ? "true" : "false", after);
    close_session(s);
    return 0;
  }
  if (scenario == "read-before-sync") {
    const bool ok = bmrt_launch_tensor(s.rt, s.net->name, in.data(), s.net->input_num, out.data(), n_out);
    std::vector<uint8_t> host(out[0].device_mem.size);
    const int early = bm_memcpy_d2s(s.handle, host.data(), out[0].device_mem);
    bm_thread_sync(s.handle);
    const int late = bm_memcpy_d2s(s.handle, host.data(), out[0].device_mem);
    bm_emu_counters_t c{};
    bm_emu_get_counters(s.handle, &c);
    std::printf("{\"launched\":%s,\"beforeSync\":%d,\"afterSync\":%d,\"readBeforeSync\":%llu}\n",
                ok ? "true" : "false", early, late, c.read_before_sync);
    free_all(s, out);
    free_all(s, in);
    close_session(s);
    return 0;
  }
  if (scenario == "leak" || scenario == "clean") {
    const bool ok = bmrt_launch_tensor(s.rt, s.net->name, in.data(), s.net->input_num, out.data(), n_out);
    bm_thread_sync(s.handle);
    free_all(s, in);
    if (scenario == "clean") free_all(s, out);
    std::printf("{\"launched\":%s,\"liveBlocks\":%llu}\n", ok ? "true" : "false", live_blocks(s));
    std::fflush(stdout);
    close_session(s);
    return 0;
  }
  if (scenario == "store-4n") {
    // The same launch in 1N and, through bmrt_launch_tensor_ex(user_stmode), in the net's own
    // store modes: the 4N outputs, de-interleaved, must equal the 1N ones.
    bool ok = bmrt_launch_tensor(s.rt, s.net->name, in.data(), s.net->input_num, out.data(), n_out);
    bm_thread_sync(s.handle);
    std::vector<bm_tensor_t> in4(in.size()), out4(n_out);
    for (size_t i = 0; i < in.size(); ++i) {
      std::vector<uint8_t> plain(bmrt_tensor_bytesize(&in[i]));
      bm_memcpy_d2s(s.handle, plain.data(), in[i].device_mem);
      const int n = in[i].shape.dims[0];
      const size_t per = plain.size() / n;
      const size_t padded = (static_cast<size_t>(n) + 3) / 4 * 4 * per;
      std::vector<uint8_t> packed(padded, 0);
      for (int b = 0; b < n; ++b) {
        for (size_t r = 0; r < per; ++r) packed[((b / 4) * per + r) * 4 + b % 4] = plain[b * per + r];
      }
      in4[i] = in[i];
      bm_malloc_device_byte(s.handle, &in4[i].device_mem, static_cast<unsigned>(padded));
      in4[i].st_mode = BM_STORE_4N;
      bm_memcpy_s2d(s.handle, in4[i].device_mem, packed.data());
    }
    // INT8 outputs in 4N (as BM1684 stores them), the others in 1N.
    for (int k = 0; k < n_out; ++k) {
      out4[k].st_mode = s.net->output_dtypes[k] == BM_INT8 ? BM_STORE_4N : BM_STORE_1N;
    }
    ok = ok && bmrt_launch_tensor_ex(s.rt, s.net->name, in4.data(), s.net->input_num, out4.data(),
                                     n_out, false, true);
    bm_thread_sync(s.handle);
    int same = 0, four_n = 0;
    for (int k = 0; k < n_out && ok; ++k) {
      std::vector<uint8_t> a(out[k].device_mem.size), b(out4[k].device_mem.size);
      bm_memcpy_d2s(s.handle, a.data(), out[k].device_mem);
      bm_memcpy_d2s(s.handle, b.data(), out4[k].device_mem);
      if (out4[k].st_mode == BM_STORE_4N) {
        ++four_n;
        const int n = out[k].shape.dims[0];
        const size_t per = a.size() / n;
        bool eq = true;
        for (int bi = 0; bi < n; ++bi) {
          for (size_t r = 0; r < per; ++r) {
            eq = eq && a[bi * per + r] == b[((bi / 4) * per + r) * 4 + bi % 4];
          }
        }
        same += eq ? 1 : 0;
      } else {
        same += a == b ? 1 : 0;
      }
    }
    std::printf("{\"launched\":%s,\"outputs\":%d,\"same\":%d,\"fourN\":%d}\n", ok ? "true" : "false",
                n_out, same, four_n);
    free_all(s, out);
    free_all(s, out4);
    free_all(s, in4);
    free_all(s, in);
    close_session(s);
    return 0;
  }
  if (scenario == "bench") {
    // The binding's work done straight in C (inputs to the device, launch, sync, outputs back,
    // free): the baseline the binding's overhead is measured against. Prints each loop in us.
    const int loops = argc > 3 ? std::atoi(argv[3]) : 1000;
    std::vector<std::vector<uint8_t>> host_in(in.size());
    for (size_t i = 0; i < in.size(); ++i) host_in[i].assign(bmrt_tensor_bytesize(&in[i]), 1);
    std::vector<std::vector<uint8_t>> host_out(static_cast<size_t>(n_out));
    std::printf("[");
    for (int l = 0; l < loops; ++l) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<bm_tensor_t> ins(in);
      for (size_t i = 0; i < in.size(); ++i) {
        bm_malloc_device_byte(s.handle, &ins[i].device_mem, in[i].device_mem.size);
        bm_memcpy_s2d(s.handle, ins[i].device_mem, host_in[i].data());
      }
      bmrt_launch_tensor(s.rt, s.net->name, ins.data(), s.net->input_num, out.data(), n_out);
      bm_thread_sync(s.handle);
      for (int k = 0; k < n_out; ++k) {
        host_out[k].resize(bmrt_tensor_bytesize(&out[k]));
        bm_memcpy_d2s(s.handle, host_out[k].data(), out[k].device_mem);
        bm_free_device(s.handle, out[k].device_mem);
      }
      free_all(s, ins);
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      std::printf(l == 0 ? "%.2f" : ",%.2f", us);
    }
    std::printf("]\n");
    free_all(s, in);
    close_session(s);
    return 0;
  }
  std::fprintf(stderr, "unknown scenario %s\n", scenario.c_str());
  free_all(s, in);
  close_session(s);
  return 2;
}
