//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
#include "diffuse/io.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace diffuse::rt {

bool readNpy(const std::string &path, NpyArray &out, std::string &err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = "cannot open " + path;
    return false;
  }
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    err = path + " is not a .npy file";
    return false;
  }
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    in.read((char *)&h, 2);
    hlen = h;
  } else {
    in.read((char *)&hlen, 4);
  }
  if (!in || hlen > (1u << 20)) {
    err = path + ": bad .npy header";
    return false;
  }
  std::string header(hlen, '\0');
  in.read(header.data(), hlen);
  auto field = [&](const std::string &key) {
    size_t p = header.find("'" + key + "'");
    if (p == std::string::npos)
      return std::string();
    p = header.find(':', p);
    return header.substr(p + 1);
  };
  std::string descr = field("descr");
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  std::string type = q1 == std::string::npos ? "" : descr.substr(q1 + 1, q2 - q1 - 1);
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) {
    err = path + ": Fortran-order arrays are not supported; save with np.ascontiguousarray";
    return false;
  }
  std::string shape = field("shape");
  shape = shape.substr(shape.find('(') + 1, shape.find(')') - shape.find('(') - 1);
  out.shape.clear();
  std::stringstream ss(shape);
  size_t count = 1;
  for (std::string d; std::getline(ss, d, ',');) {
    if (d.find_first_not_of(" ") == std::string::npos)
      continue;
    long v = std::strtol(d.c_str(), nullptr, 10);
    out.shape.push_back(v);
    count *= (size_t)v;
  }
  size_t esz = type == "<f8" || type == "<i8" ? 8 : type == "<f4" || type == "<i4" ? 4 : 0;
  if (!esz) {
    err = path + ": unsupported dtype '" + type + "' (use float32, float64, int32 or int64)";
    return false;
  }
  std::vector<char> raw(count * esz);
  if (!in.read(raw.data(), (std::streamsize)raw.size())) {
    err = path + ": file is shorter than its header says";
    return false;
  }
  out.data.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const char *p = raw.data() + i * esz;
    if (type == "<f8") { double v; std::memcpy(&v, p, 8); out.data[i] = v; }
    else if (type == "<f4") { float v; std::memcpy(&v, p, 4); out.data[i] = v; }
    else if (type == "<i8") { int64_t v; std::memcpy(&v, p, 8); out.data[i] = (double)v; }
    else { int32_t v; std::memcpy(&v, p, 4); out.data[i] = v; }
  }
  return true;
}

bool writeNpy(const std::string &path, const std::vector<long> &shape,
              const std::vector<double> &data, std::string &err, bool f32) {
  std::ofstream os(path, std::ios::binary);
  if (!os) {
    err = "cannot write " + path;
    return false;
  }
  std::string dims;
  for (long d : shape)
    dims += std::to_string(d) + ",";
  if (shape.size() > 1)
    dims.pop_back();
  std::string header = "{'descr': '" + std::string(f32 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  uint16_t hlen = (uint16_t)header.size();
  os.write("\x93NUMPY\x01\x00", 8);
  os.write((const char *)&hlen, 2);
  os.write(header.data(), (std::streamsize)header.size());
  for (double v : data) {
    if (f32) {
      float f = (float)v;
      os.write((const char *)&f, 4);
    } else {
      os.write((const char *)&v, 8);
    }
  }
  if (!os) {
    err = "write to " + path + " failed";
    return false;
  }
  return true;
}

} // namespace diffuse::rt
